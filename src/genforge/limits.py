"""Bounds shared by the command line, the server and the configs, importable without torch or numpy."""

# Frame rates an animated file can hold: GIF stores each frame's delay in hundredths of a second in 16 bits (at
# most 655 s); below 0.1 frames/s the delay is beyond any animation and near zero it overflows.
MIN_FPS, MAX_FPS = 0.1, 120.0
