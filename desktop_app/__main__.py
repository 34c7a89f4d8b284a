import sys

# The guard matters: worker processes are spawned and re-import the main module.
if __name__ == "__main__":
    if len(sys.argv) > 1:
        from desktop_app.cli import main
    else:  # no command: open the desktop app
        from desktop_app.ui.app import main
    raise SystemExit(main())
