"""Training loops (accelerate) and datasets; one module per trainable model."""
