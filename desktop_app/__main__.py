from desktop_app.launch import run

# The guard matters: worker processes are spawned and re-import the main module.
if __name__ == "__main__":
    raise SystemExit(run())
