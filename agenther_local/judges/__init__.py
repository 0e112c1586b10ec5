"""Judges: the Judge protocol, the llama.cpp and HTTP backends, manifests, the jury."""
