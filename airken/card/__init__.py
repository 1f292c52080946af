"""What a model is and what was measured on it, as the About tab and the Hub model card say it."""
