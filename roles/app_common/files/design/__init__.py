"""govcloud's shared citizen-facing design as a Django app (docs/design.md): the base template
`design/base.html`, the stylesheet `design/govcloud.min.css` (compiled from design/ at the repository's root)
and a context processor that gives templates the agency's name, colour and logo."""
