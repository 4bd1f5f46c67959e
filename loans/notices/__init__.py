"""Public notices (公示) of approved applications, objections, and the release to
the co-op when the period ends; the printable notice."""
