#!/usr/bin/env bash
# Install what the real-browser test needs: Debian's Chromium (when missing) and the Python
# packages of tests/browser/requirements.txt, into the Python that runs the tests ($PYTHON, else
# python). Never downloads Playwright's own browsers. A failure here only makes the test skip.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python}"

if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
    echo "browser test: chromium is already installed"
elif command -v apt-get >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi
    fi
    echo "browser test: installing chromium with apt-get"
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null; } \
        || echo "browser test: could not install chromium; the browser test will be skipped"
else
    echo "browser test: no apt-get here; install Chromium yourself or the browser test will be skipped"
fi

PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$python" -m pip install --quiet -r "$here/requirements.txt" \
    || echo "browser test: could not install playwright; the browser test will be skipped"
exit 0
