# tether_add_layer(<layer> SOURCES ... [PUBLIC deps...] [PRIVATE deps...])
#
# One library per layer folder: target tether_<layer> (alias tether::<layer>,
# exported as tether::<layer>), public headers in <layer>/include, C++20 and the
# project's warnings. Private dependencies stay out of the installed interface.
function(tether_add_layer layer)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  set(target tether_${layer})
  add_library(${target} ${ARG_SOURCES})
  add_library(tether::${layer} ALIAS ${target})
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
                                              $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC} PRIVATE $<BUILD_INTERFACE:tether_warnings>)
  foreach(dep IN LISTS ARG_PRIVATE)
    target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:${dep}>)
  endforeach()
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${layer})
endfunction()

# tether_native_eigen(<target>)
#
# Compiles <target>'s C++ with -march=native when TETHER_NATIVE is on, as the CPU kernels
# are. Under GCC it also turns off the uninitialised-value warnings that GCC 12 gives for
# the AVX-512 intrinsics Eigen's packet code inlines (_mm512_undefined, the don't-care
# upper half of a cast): a false positive in the compiler's own header, about 750 lines of
# it, that would bury real ones.
function(tether_native_eigen target)
  if(NOT TETHER_NATIVE)
    return()
  endif()
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized;-Wno-uninitialized>)
  endif()
endfunction()
