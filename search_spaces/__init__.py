"""What may vary in an ablation or search, and how Optuna suggests it."""
