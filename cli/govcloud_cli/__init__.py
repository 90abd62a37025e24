"""govcloud's command line: parses arguments, calls govcloud_platform, renders results."""
