"""The packaged app's executable: the same entry point as `python -m desktop_app`."""

from desktop_app.launch import run

if __name__ == "__main__":  # model workers are started through this file too (multiprocessing's spawn)
    raise SystemExit(run())
