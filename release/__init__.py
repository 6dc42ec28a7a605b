"""Release rules, pure: thresholds, noise, suppression and error bars applied to counted answers."""
