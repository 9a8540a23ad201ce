"""Audio in, text out, and back: frames, decoding, resampling, VAD, streaming ASR, TTS."""
