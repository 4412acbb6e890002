"""The studies behind the README's numbers: one module each, `main(argv) -> int`, run as
`avatarvid study NAME` or `python -m avatarvid.evaluate.studies.NAME`."""
