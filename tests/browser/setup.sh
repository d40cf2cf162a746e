#!/usr/bin/env bash
# Install what the real-browser tests need: Debian's Chromium (when missing), the Python packages
# of tests/browser/requirements.txt (into the Python that runs the tests: $PYTHON, else python) and
# axe-core from npm. Never downloads Playwright's own browsers. A failure here only makes the test skip.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python}"
sudo=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi

if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
    echo "browser test: chromium is already installed"
elif command -v apt-get >/dev/null 2>&1; then
    echo "browser test: installing chromium with apt-get"
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null; } \
        || echo "browser test: could not install chromium; the browser test will be skipped"
else
    echo "browser test: no apt-get here; install Chromium yourself or the browser test will be skipped"
fi

PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$python" -m pip install --quiet -r "$here/requirements.txt" \
    || echo "browser test: could not install playwright; the browser test will be skipped"

# The accessibility scans: axe-core from npm, the version package-lock.json pins, into
# tests/browser/node_modules (Debian's npm where there is none).
if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    echo "accessibility test: installing npm with apt-get"
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq npm >/dev/null; } \
        || echo "accessibility test: could not install npm"
fi
if command -v npm >/dev/null 2>&1; then
    npm ci --prefix "$here" --no-audit --no-fund --loglevel=error \
        || echo "accessibility test: could not install axe-core; the accessibility scans will be skipped"
else
    echo "accessibility test: no npm here; the accessibility scans will be skipped"
fi
exit 0
