"""Rows keyed the way users\x27 data is keyed: records by a unique property, types by name or label."""
