# Warning and hardening flags (docs/design.md, "Modules"), each checked with the compiler.
include(CheckCCompilerFlag)
include(CheckCSourceCompiles)
include(CheckPIESupported)

set(FC_WARNINGS
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wconversion -Wno-sign-conversion -Wvla -Wundef
  -Wnull-dereference -Wimplicit-fallthrough
  -Wcast-qual -Wwrite-strings -Wpointer-arith -Wold-style-definition)
foreach(flag IN LISTS FC_WARNINGS)
  string(MAKE_C_IDENTIFIER "HAVE_${flag}" var)
  check_c_compiler_flag(${flag} ${var})
  if(${var})
    add_compile_options(${flag})
  endif()
endforeach()

if(FC_WERROR)
  add_compile_options(-Werror)
endif()

# Hardening: every flag the compiler has.
foreach(flag -fstack-protector-strong -fstack-clash-protection -fcf-protection)
  string(MAKE_C_IDENTIFIER "HAVE_${flag}" var)
  check_c_compiler_flag(${flag} ${var})
  if(${var})
    add_compile_options(${flag})
  endif()
endforeach()
check_pie_supported(LANGUAGES C)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

if(NOT FC_SANITIZE)
  # _FORTIFY_SOURCE needs optimisation and fights ASan's interceptors. Level
  # 3 (GCC 12, glibc 2.34 and later) also checks sizes known only at run
  # time; older compilers get level 2.
  set(CMAKE_REQUIRED_FLAGS "-O2 -Werror")
  check_c_source_compiles("
#include <stddef.h>
int main(int c, char **v) { (void)v; return (int)__builtin_dynamic_object_size(v, 0) + c; }"
    FC_HAVE_FORTIFY3)
  unset(CMAKE_REQUIRED_FLAGS)
  if(FC_HAVE_FORTIFY3)
    set(FC_FORTIFY 3)
  else()
    set(FC_FORTIFY 2)
  endif()
  # Both as options, in this order: the compiler takes -D and -U from left
  # to right, and CMake puts definitions before options, so a -D among the
  # definitions would be undone by the -U (and a _FORTIFY_SOURCE=2 from
  # CFLAGS, as dpkg-buildflags gives, is replaced rather than clashed with).
  add_compile_options($<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE>
    $<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=${FC_FORTIFY}>)
endif()
add_link_options(-Wl,-z,relro,-z,now)

if(FC_SANITIZE)
  set(FC_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
  add_compile_options(${FC_SAN_FLAGS})
  add_link_options(${FC_SAN_FLAGS})
endif()
