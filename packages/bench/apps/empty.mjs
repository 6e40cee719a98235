// Intentionally empty: the start-up benchmark measures the preload alone.
