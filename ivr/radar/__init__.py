"""The emotion radar learns from the deployment's own calls: people's labels, retraining as an
admin's decision, versions live in the workers without a restart."""
