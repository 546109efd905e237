#!/usr/bin/env bash
# Run the test suite against a checked build of the Cython core.
#
#   tools/sanitize.sh debug    [pytest args]   bounds and wraparound checks on (AUTOGRADX_DEBUG=1)
#   tools/sanitize.sh asan     [pytest args]   the debug build with AddressSanitizer
#
# The build happens in a scratch copy of this checkout (uncommitted changes
# included), so the checkout's own compiled modules are left alone. Without
# pytest arguments the whole suite runs. The exit status is pytest's, or 1 when
# the sanitizer reported an error (its report is printed). SANITIZE_DIR=path
# keeps the copy and the reports there, for a look afterwards.
# docs/reliability.md says what each mode catches and how long it takes.
set -euo pipefail

mode=${1:-}
case "$mode" in
  debug|asan) shift ;;
  *) echo "usage: tools/sanitize.sh debug|asan [pytest args]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
# The interpreter itself, not a wrapper script (pyenv's shims), for LD_PRELOAD to reach.
py=$(python -c "import sys; print(sys.executable)")
# The build runs setup.py directly, outside pip's isolated build environment.
"$py" -c "import Cython, numpy, setuptools" 2>/dev/null || {
  echo "error: the sanitizer build needs the build requirements installed here:" >&2
  echo "  python -m pip install $("$py" "$root/tools/requirements.py" build | sed "s/.*/'&'/" | tr '\n' ' ')" >&2
  exit 2
}
work=${SANITIZE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/autogradx-sanitize.XXXXXX")}
[ -n "${SANITIZE_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
rm -rf "$work/tree" "$work/reports"
mkdir -p "$work/tree" "$work/reports"

# The tracked and untracked (not ignored) files, as they are in the working tree.
git -C "$root" ls-files -z --cached --others --exclude-standard \
  | (cd "$root" && tar --null --ignore-failed-read -T - -cf -) \
  | tar -xf - -C "$work/tree"
cd "$work/tree"

export AUTOGRADX_DEBUG=1
if [ "$mode" = asan ]; then
  export CFLAGS="-fsanitize=address -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address"
fi
echo "building the core ($mode) in $work/tree" >&2
"$py" setup.py build_ext --inplace -q >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; exit 1; }
unset CFLAGS LDFLAGS
# Found, not imported: an ASan build cannot be imported without its runtime preloaded.
where=$("$py" -c "import importlib.util; print(importlib.util.find_spec('autogradx').origin)")
case "$where" in
  "$work/tree/"*) ;;
  *) echo "error: python imports autogradx from $where, not from the copy" >&2; exit 1 ;;
esac

args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-q -p no:cacheprovider)
status=0
case "$mode" in
  debug)
    "$py" -m pytest "${args[@]}" || status=$?
    ;;
  asan)
    # Python is not built with ASan: the runtime is preloaded (with the C++
    # runtime, whose exceptions torch throws), and PYTHONMALLOC=malloc sends every
    # Python object through malloc, so that ASan sees their bounds and lifetimes.
    # Python's own allocations are never freed at exit: leak reports are off.
    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)" \
    ASAN_OPTIONS="detect_leaks=0:log_path=$work/reports/asan" PYTHONMALLOC=malloc \
      "$py" -m pytest "${args[@]}" || status=$?
    ;;
esac

reports=$(grep -l "ERROR: AddressSanitizer" "$work"/reports/* 2>/dev/null || true)
if [ -n "$reports" ]; then
  cat $reports >&2
  echo "$mode: errors reported (above)" >&2
  exit 1
fi
echo "$mode: no errors reported; pytest exited with $status" >&2
exit "$status"
