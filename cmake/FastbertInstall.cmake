# `cmake --install`: the runtime side's libraries, headers, an exported
# fastbertConfig.cmake (targets fastbert::<name>) and fastbert.pc. The
# training side (LibTorch) is not part of the package.
include(CMakePackageConfigHelpers)

set(fastbert_installed_libraries
  fastbert_common fastbert_formats fastbert_kernels fastbert_kernels_ops fastbert_runtime fastbert_export)
foreach(library IN LISTS fastbert_installed_libraries)
  string(REPLACE "fastbert_" "" name ${library})
  set_target_properties(${library} PROPERTIES EXPORT_NAME ${name})
endforeach()

install(TARGETS ${fastbert_installed_libraries}
  EXPORT fastbertTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(dir common formats kernels runtime export)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()

set(fastbert_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/fastbert)
install(EXPORT fastbertTargets NAMESPACE fastbert:: DESTINATION ${fastbert_cmake_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/fastbertConfig.cmake.in
  ${PROJECT_BINARY_DIR}/fastbertConfig.cmake INSTALL_DESTINATION ${fastbert_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/fastbertConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/fastbertConfig.cmake ${PROJECT_BINARY_DIR}/fastbertConfigVersion.cmake
  DESTINATION ${fastbert_cmake_dir})

# fastbert.pc names the prefix it is installed into: written at install time,
# so `cmake --install --prefix P` gets P, not the configured default.
install(CODE "
  set(CMAKE_INSTALL_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(CMAKE_INSTALL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(CMAKE_INSTALL_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${CMAKE_CURRENT_LIST_DIR}/fastbert.pc.in\" \"${PROJECT_BINARY_DIR}/fastbert.pc\" @ONLY)
  file(INSTALL \"${PROJECT_BINARY_DIR}/fastbert.pc\" DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
")
