"""The gates of ``skeldir prove``, one module each; ``runner.GATES`` orders them."""
