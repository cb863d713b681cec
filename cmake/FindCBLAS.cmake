# Locates OpenBLAS's CBLAS interface and exposes it as the imported target tether::cblas.
# Also installed beside tetherConfig.cmake, which includes it with TETHER_CBLAS_NOT_FATAL set
# so that a missing OpenBLAS makes find_package(tether) fail instead of aborting.
set(_tether_multiarch x86_64-linux-gnu)
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(_tether_multiarch ${CMAKE_LIBRARY_ARCHITECTURE})
endif()
find_path(CBLAS_INCLUDE_DIR cblas.h
          PATHS /usr/include/${_tether_multiarch}/openblas-pthread /usr/include/openblas /usr/include
          NO_DEFAULT_PATH)
find_library(CBLAS_LIBRARY NAMES openblas
             PATHS /usr/lib/${_tether_multiarch}/openblas-pthread /usr/lib/${_tether_multiarch} /usr/lib)
unset(_tether_multiarch)
if(NOT CBLAS_INCLUDE_DIR OR NOT CBLAS_LIBRARY)
  if(TETHER_CBLAS_NOT_FATAL)
    return()
  endif()
  message(FATAL_ERROR "OpenBLAS (cblas.h, libopenblas) not found: install libopenblas-dev")
endif()
if(NOT TARGET tether::cblas)
  add_library(tether::cblas UNKNOWN IMPORTED)
  set_target_properties(tether::cblas PROPERTIES IMPORTED_LOCATION "${CBLAS_LIBRARY}"
                                                 INTERFACE_INCLUDE_DIRECTORIES "${CBLAS_INCLUDE_DIR}")
endif()
