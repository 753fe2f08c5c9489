"""Framework-light helpers shared by the apps: errors, SMS backends, and later geo, units, tokens."""
