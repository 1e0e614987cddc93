"""The training loop and training groups shared by the translate-train and fine-tune trainers."""
