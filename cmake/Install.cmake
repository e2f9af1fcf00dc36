# What `cmake --install` puts where (GNUInstallDirs; DESTDIR honoured):
#
#   sbin/famcontactd, bin/famcontactctl, the manuals, famcontactctl's
#   bash completion,
#   the unit (ExecStart = the installed famcontactd), the sysusers and
#   tmpfiles snippets, and the example configuration, both in the
#   documentation folder and as SYSCONFDIR/famcontactd.conf unless a
#   configuration is there already: an operator's edits are never replaced.
#
# Paths that depend on the prefix are worked out when installing, so that
# `cmake --install build --prefix /usr` gives a coherent tree (ExecStart,
# /etc) without configuring again.

# systemd's folders: from systemd.pc when there is one, else under the prefix.
pkg_get_variable(FC_PC_UNITDIR systemd systemdsystemunitdir)
if(NOT FC_PC_UNITDIR)
  set(FC_PC_UNITDIR lib/systemd/system)
endif()
set(FC_SYSTEMD_UNITDIR "${FC_PC_UNITDIR}" CACHE STRING
  "Where the systemd unit goes (relative: under the prefix)")
set(FC_SYSUSERSDIR lib/sysusers.d CACHE STRING
  "Where the sysusers.d snippet goes (relative: under the prefix)")
set(FC_TMPFILESDIR lib/tmpfiles.d CACHE STRING
  "Where the tmpfiles.d snippet goes (relative: under the prefix)")

install(TARGETS famcontactd DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS famcontactctl DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES man/famcontactd.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES man/famcontactctl.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES man/famcontactd.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES etc/famcontactd.conf DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# Bash completion, where bash-completion loads it on demand.
install(FILES completion/famcontactctl.bash
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  RENAME famcontactctl)
install(FILES systemd/famcontactd.sysusers DESTINATION ${FC_SYSUSERSDIR}
  RENAME famcontactd.conf)
install(FILES systemd/famcontactd.tmpfiles DESTINATION ${FC_TMPFILESDIR}
  RENAME famcontactd.conf)

# The install-time part: the values it needs, then the script.
install(CODE "
set(FC_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
set(FC_BINARY_DIR \"${CMAKE_BINARY_DIR}\")
set(FC_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
set(FC_SYSCONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
set(FC_SYSTEMD_UNITDIR \"${FC_SYSTEMD_UNITDIR}\")
")
install(CODE [[
# A relative folder under the prefix; /usr's configuration lives in /etc
# (the rule GNUInstallDirs applies when configuring).
function(fc_full var dir)
  if(IS_ABSOLUTE "${dir}")
    set(${var} "${dir}" PARENT_SCOPE)
  elseif(dir STREQUAL "etc" AND CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$")
    set(${var} "/etc" PARENT_SCOPE)
  else()
    set(${var} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

fc_full(fc_sbindir "${FC_SBINDIR}")
fc_full(fc_unitdir "${FC_SYSTEMD_UNITDIR}")
fc_full(fc_sysconfdir "${FC_SYSCONFDIR}")

# The unit, with ExecStart naming the famcontactd just installed.
file(READ "${FC_SOURCE_DIR}/systemd/famcontactd.service" fc_unit)
# famcontactd reads /etc/famcontactd.conf unless told otherwise: a
# configuration installed elsewhere (--prefix /usr/local) is named.
set(fc_exec "${fc_sbindir}/famcontactd")
if(NOT fc_sysconfdir STREQUAL "/etc")
  string(APPEND fc_exec " -c ${fc_sysconfdir}/famcontactd.conf")
endif()
string(REPLACE "ExecStart=/usr/sbin/famcontactd"
  "ExecStart=${fc_exec}" fc_unit "${fc_unit}")
if(NOT fc_unit MATCHES "\nExecStart=${fc_sbindir}/famcontactd")
  message(FATAL_ERROR "systemd/famcontactd.service: no ExecStart=/usr/sbin/famcontactd line to point at ${fc_sbindir}")
endif()
file(MAKE_DIRECTORY "${FC_BINARY_DIR}/install")
file(WRITE "${FC_BINARY_DIR}/install/famcontactd.service" "${fc_unit}")
file(INSTALL "${FC_BINARY_DIR}/install/famcontactd.service"
  DESTINATION "${fc_unitdir}"
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# The configuration: never over one that is there.
if(EXISTS "$ENV{DESTDIR}${fc_sysconfdir}/famcontactd.conf")
  message(STATUS "Keeping: $ENV{DESTDIR}${fc_sysconfdir}/famcontactd.conf")
else()
  file(INSTALL "${FC_SOURCE_DIR}/etc/famcontactd.conf"
    DESTINATION "${fc_sysconfdir}"
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()
]])
