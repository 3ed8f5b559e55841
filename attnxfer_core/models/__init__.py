"""timm Vision Transformers: building them, the weights they start from, and the MAE wrapper."""
