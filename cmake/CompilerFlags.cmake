# Warning and hardening flags (STYLE.md), each checked with the compiler.
include(CheckCCompilerFlag)

set(FC_WARNINGS
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wconversion -Wno-sign-conversion -Wvla -Wundef
  -Wnull-dereference -Wimplicit-fallthrough)
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

add_compile_options(-fstack-protector-strong)
if(NOT FC_SANITIZE)
  # _FORTIFY_SOURCE needs optimisation and fights ASan's interceptors.
  add_compile_definitions($<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
endif()
add_link_options(-Wl,-z,relro,-z,now)

if(FC_SANITIZE)
  set(FC_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
  add_compile_options(${FC_SAN_FLAGS})
  add_link_options(${FC_SAN_FLAGS})
endif()
