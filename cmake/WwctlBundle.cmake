# wwctl-linux-ARCH in BUILD/artifacts: wwctl with every library ldd lists, glibc's loader
# included, behind a small sh launcher (scripts/bundle), so it runs on any CI runner. The
# directory is laid out as the reconciler's --artifacts-dir (`make run` serves it).
# `make wwctl-bundle` builds it; the tests build it too. ldd runs the binary: build the
# bundle on the architecture it is for (a cross build gets no bundle).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(WW_BUNDLE_ARCH amd64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(WW_BUNDLE_ARCH arm64)
else()
  set(WW_BUNDLE_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()
set(WW_ARTIFACTS_DIR ${CMAKE_BINARY_DIR}/artifacts)
set(WW_WWCTL_BUNDLE ${WW_ARTIFACTS_DIR}/wwctl-linux-${WW_BUNDLE_ARCH})

if(NOT CMAKE_CROSSCOMPILING)
  add_custom_command(
    OUTPUT ${WW_WWCTL_BUNDLE}
    COMMAND sh ${PROJECT_SOURCE_DIR}/scripts/bundle/make_wwctl_bundle.sh $<TARGET_FILE:wwctl> ${WW_BUNDLE_ARCH}
      ${WW_WWCTL_BUNDLE}
    DEPENDS wwctl ${PROJECT_SOURCE_DIR}/scripts/bundle/make_wwctl_bundle.sh
      ${PROJECT_SOURCE_DIR}/scripts/bundle/launcher.sh
    COMMENT "Bundling wwctl with its libraries: ${WW_WWCTL_BUNDLE}"
    VERBATIM)
  add_custom_target(wwctl-bundle DEPENDS ${WW_WWCTL_BUNDLE})
endif()
