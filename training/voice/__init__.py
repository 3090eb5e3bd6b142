"""The voice classifier: female / male adult (/ child) from log-mel and pitch statistics."""
