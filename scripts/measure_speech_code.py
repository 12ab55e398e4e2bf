#!/usr/bin/env python3
# Run: PYTHONPATH=. .venv/bin/python scripts/measure_speech_code.py (needs the speech extra and espeak-ng).
"""Seconds of speech for the tracking-code line, before (64 hex read raw) and after (short form)."""
from cli import speech

code = "5826bd775be57dbdfb82183412d69bd74260a6ca76b458c62cc8d442e45a0bfa"
for lang, title in (("ja", "あなたの追跡コード"), ("en", "Your tracking code")):
    before = speech.synthesize(f"{title}: {code}", lang).seconds
    after = speech.synthesize(speech.speech_text(f"{title}: {code}", lang), lang).seconds
    print(f"{lang}: before {before:.1f} s, after {after:.1f} s")
