"""Line-protocol codec: the public module (placeholder until the codec lands)."""
