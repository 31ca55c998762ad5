# shellcheck shell=bash
# Shared by the packaging tests (sourced).

# skip_unless_release BUILD_DEBS_ARGS...: packages come from Release builds only, so a test
# in a Debug build directory is skipped (exit 77) with the reason.
skip_unless_release() {
  local previous=""
  for argument in "$@"; do
    if [ "$previous" = --build-type ] && [ "$argument" != Release ]; then
      echo "SKIP: this build directory is a \"$argument\" build; packages come from Release builds"
      exit 77
    fi
    previous=$argument
  done
}
