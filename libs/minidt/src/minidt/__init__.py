"""The miniDT detector: model, hit codecs, batch-result contract, numpy reference."""
