"""The `hosts` target: hosts reached over SSH, as the spec's topology describes them."""
