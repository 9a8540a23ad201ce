"""The emotion radar: pitch and energy features, the caller's own baseline, anger and anxiety."""
