"""Framework-light helpers shared by the apps: errors, forms, SMS backends."""
