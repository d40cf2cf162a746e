"""Texts that can always be written: a lone surrogate (JSON's ``"\\ud800"``, which a notebook or a
kernel's message may hold) cannot be encoded as UTF-8, so a student could make every write of
their own record, notebook or page fail. Each one becomes U+FFFD; valid pairs are kept."""


def whole(value):
    """``value`` (JSON data) with every string, keys included, made encodable."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list):
        return [whole(v) for v in value]
    if isinstance(value, dict):
        return {_text(k) if isinstance(k, str) else k: whole(v) for k, v in value.items()}
    return value


def _text(text):
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
