# Install rules and the exported package, so that another CMake project can write
#
#   find_package(tether REQUIRED)
#   target_link_libraries(app PRIVATE tether::tether)
#
# and `#include <tether/tether.h>`.
#
# To add a layer: give it a library target named tether_<layer> with EXPORT_NAME <layer>,
# and list <layer> below. Its headers under <layer>/include/ are installed unless the layer
# is listed as private. A link dependency that a static consumer needs also goes into
# tether_config_dependencies (as CUDA::cudart and CUDA::cublas do for the CUDA backend,
# which is part of the backends layer).

include(CMakePackageConfigHelpers)

# Layers in dependency order. A layer whose target does not exist in this configuration
# is skipped.
set(tether_layers core backends autograd constraints nn optim train distributions inference data
    distributed)
# Layers whose headers are an implementation detail of the build and are never installed.
set(tether_private_header_layers backends)

# Lines for tetherConfig.cmake that re-find what the static libraries link against.
# tether::cblas is recreated there from the installed FindCBLAS.cmake.
set(tether_config_dependencies "find_dependency(Threads)")
if(TETHER_CUDA)
  string(APPEND tether_config_dependencies "\nfind_dependency(CUDAToolkit)")
endif()
if(TETHER_MPI)  # tether::distributed links MPI's C API, as it was found here
  string(APPEND tether_config_dependencies "\nset(MPI_CXX_SKIP_MPICXX ON)\nfind_dependency(MPI COMPONENTS CXX)")
endif()

set(tether_install_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/tether)
set(tether_export_targets tether)

foreach(layer IN LISTS tether_layers)
  if(NOT TARGET tether_${layer})
    continue()
  endif()
  list(APPEND tether_export_targets tether_${layer})
  if(NOT layer IN_LIST tether_private_header_layers AND IS_DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/include)
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/include/
            DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
            COMPONENT tether_development
            FILES_MATCHING PATTERN "*.h")
  endif()
endforeach()

# The umbrella header <tether/tether.h>.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT tether_development
        FILES_MATCHING PATTERN "*.h")

install(TARGETS ${tether_export_targets}
        EXPORT tetherTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT tether_development
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT tether_runtime
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tether_runtime)

install(EXPORT tetherTargets
        NAMESPACE tether::
        DESTINATION ${tether_install_cmakedir}
        COMPONENT tether_development)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tetherConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/tetherConfig.cmake
                              INSTALL_DESTINATION ${tether_install_cmakedir})
# 0.x releases may break the API between minor versions, so only 0.1.* satisfies 0.1.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tetherConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)

install(FILES ${PROJECT_BINARY_DIR}/tetherConfig.cmake
              ${PROJECT_BINARY_DIR}/tetherConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindCBLAS.cmake
        DESTINATION ${tether_install_cmakedir}
        COMPONENT tether_development)
