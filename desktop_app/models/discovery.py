"""Find the GGUF models a user already has: own folders, LM Studio, Ollama, GPT4All, HF and llama.cpp caches."""

from __future__ import annotations

import json
import os
import platform
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop_app import paths

# Order matters: it is the display order and, when one file is reachable from two sources,
# the earlier source keeps it.
SOURCES: tuple[str, ...] = (
    "project",
    "user",
    "folder",
    "lmstudio",
    "ollama",
    "gpt4all",
    "huggingface",
    "llama.cpp",
)

OLLAMA_MODEL_MEDIA_TYPE = "application/vnd.ollama.image.model"
OLLAMA_DEFAULT_REGISTRY = "registry.ollama.ai"
OLLAMA_DEFAULT_NAMESPACE = "library"

# Deep enough for LM Studio (publisher/repo/file) and HF snapshot subfolders, shallow enough
# that a folder like the home directory cannot turn discovery into a disk crawl.
MAX_FOLDER_DEPTH = 6
MAX_SMALL_FILE_BYTES = 1 << 20  # manifests, refs and settings files are a few KiB

PARTIAL_DOWNLOAD_SUFFIXES = (".part", ".download", ".incomplete", ".downloadinprogress", ".tmp")
# GPT4All downloads into "incomplete-<file>" and renames it when done (gpt4all-chat modellist.cpp).
PARTIAL_DOWNLOAD_PREFIXES = ("incomplete-",)
SHARD_PATTERN = re.compile(r"-(\d{5})-of-(\d{5})(\.gguf)$", re.IGNORECASE)
HF_REPO_PREFIX = "models--"


@dataclass(frozen=True)
class DiscoveredModel:
    path: Path  # the file to load (absolute; for HF the snapshot path, so split shards sit side by side)
    source: str  # one of SOURCES
    label: str  # Ollama "name:tag", HF "org/repo/file.gguf", else the file name
    size_bytes: int  # of this file only (the first shard for a split model)


@dataclass(frozen=True)
class SearchRoot:
    source: str
    path: Path


def default_roots(
    *,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    system: str | None = None,
    include_system_dirs: bool | None = None,
) -> list[SearchRoot]:
    """The folders where other apps keep GGUF models on this machine (they need not exist).

    Only a few small settings files are read here. System-wide folders outside the home (the
    Ollama service's store) are included unless told otherwise, or unless `home` is given.
    """
    if include_system_dirs is None:
        include_system_dirs = home is None
    home = Path.home() if home is None else home
    env = os.environ if env is None else env
    system = platform.system() if system is None else system

    def var(name: str) -> Path | None:
        value = env.get(name)
        return Path(value).expanduser() if value else None

    xdg_cache = var("XDG_CACHE_HOME") or home / ".cache"
    local_app_data = var("LOCALAPPDATA") or home / "AppData" / "Local"

    roots: list[SearchRoot] = []
    roots += [SearchRoot("lmstudio", p) for p in _lmstudio_dirs(home, env, system)]
    roots += [SearchRoot("ollama", p) for p in _ollama_dirs(home, env, system, include_system_dirs)]
    roots += [SearchRoot("gpt4all", p) for p in _gpt4all_dirs(home, env, system)]

    # huggingface_hub's own precedence (constants.py); HUGGINGFACE_HUB_CACHE is its legacy name.
    hf_hub = var("HF_HUB_CACHE") or var("HUGGINGFACE_HUB_CACHE")
    if hf_hub is None:
        hf_home = var("HF_HOME") or xdg_cache / "huggingface"
        hf_hub = hf_home / "hub"
    roots.append(SearchRoot("huggingface", hf_hub))

    # llama.cpp's cache (PR #7826): LLAMA_CACHE, else a per-OS cache folder holding flat
    # "<owner>_<repo>_<file>.gguf" files. Since 2026 (PR #20775, common/hf-cache.cpp) llama.cpp
    # writes the HF hub layout instead, into LLAMA_CACHE if set, else into the HF hub cache above;
    # the scanner below reads both layouts, and the dedupe keeps a file found twice once.
    llama_cache = var("LLAMA_CACHE")
    if llama_cache is None:
        if system == "Darwin":
            llama_cache = home / "Library" / "Caches" / "llama.cpp"
        elif system == "Windows":
            llama_cache = local_app_data / "llama.cpp"
        else:
            llama_cache = xdg_cache / "llama.cpp"
    roots.append(SearchRoot("llama.cpp", llama_cache))
    return _unique_roots(roots)


def existing_app_folders(
    sources: Sequence[str] = ("lmstudio", "ollama", "gpt4all", "huggingface"),
    *,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    system: str | None = None,
) -> list[SearchRoot]:
    """Those of default_roots() from `sources` that exist on this machine, in display order: the other apps'
    model folders a person may choose from (a first run offers them)."""
    roots = default_roots(home=home, env=env, system=system)
    return [root for root in roots if root.source in sources and _is_dir(root.path)]


def discover(
    extra_folders: Sequence[Path] = (),
    *,
    roots: list[SearchRoot] | None = None,
    project_dir: Path | None = None,
    user_dir: Path | None = None,
) -> list[DiscoveredModel]:
    """Every GGUF model file under the project, user, added and other apps' folders, each file once.

    Files named like models are listed even when they are not usable (empty, not GGUF, a Git LFS
    pointer): the metadata read says why, and the library shows it rather than hiding the file.
    """
    project_dir = paths.PROJECT_MODELS_DIR if project_dir is None else project_dir
    user_dir = paths.user_models_dir() if user_dir is None else user_dir
    all_roots = [SearchRoot("project", project_dir), SearchRoot("user", user_dir)]
    all_roots += [SearchRoot("folder", Path(folder).expanduser()) for folder in extra_folders]
    all_roots += default_roots() if roots is None else roots

    found: list[DiscoveredModel] = []
    for root in all_roots:
        if root.source not in SOURCES:
            raise ValueError(f"unknown model source {root.source!r}; expected one of {', '.join(SOURCES)}")
        found.extend(_scan_root(root))

    found.sort(key=lambda m: (SOURCES.index(m.source), m.label.casefold(), m.label, str(m.path)))
    seen: set[object] = set()
    unique: list[DiscoveredModel] = []
    for model in found:
        identity = _file_identity(model.path)
        if identity is None or identity in seen:
            continue
        seen.add(identity)
        unique.append(model)
    return unique


# --- where other apps keep their models -------------------------------------------------------


def _lmstudio_dirs(home: Path, env: Mapping[str, str], system: str) -> list[Path]:
    # LM Studio >= 0.3 keeps its home in ~/.lmstudio, or wherever ~/.lmstudio-home-pointer says,
    # with models under <home>/models as publisher/repo/file.gguf; "Models Directory" in the app
    # is saved as "downloadsFolder" in settings.json (seen in LM Studio bug-tracker issues and
    # portable-install scripts). Before 0.3 the models lived in ~/.cache/lm-studio/models and the
    # settings in the per-OS app config folder.
    lmstudio_home = home / ".lmstudio"
    pointer = _read_small_text(home / ".lmstudio-home-pointer")
    if pointer and pointer.strip():
        lmstudio_home = Path(pointer.strip()).expanduser()

    if system == "Darwin":
        old_config = home / "Library" / "Application Support" / "LM Studio"
    elif system == "Windows":
        old_config = Path(env.get("APPDATA") or home / "AppData" / "Roaming") / "LM Studio"
    else:
        old_config = Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "LM Studio"

    dirs: list[Path] = []
    for settings_file in (lmstudio_home / "settings.json", old_config / "settings.json"):
        settings = _read_json(settings_file)
        folder = settings.get("downloadsFolder") if isinstance(settings, dict) else None
        if isinstance(folder, str) and folder.strip():
            dirs.append(Path(folder.strip()).expanduser())
    # The default folders stay in the list: changing the setting does not move old downloads.
    dirs += [lmstudio_home / "models", home / ".cache" / "lm-studio" / "models"]
    return dirs


def _ollama_dirs(home: Path, env: Mapping[str, str], system: str, include_system_dirs: bool) -> list[Path]:
    # OLLAMA_MODELS replaces the default; the Linux install script runs the service as the
    # "ollama" user, whose home is /usr/share/ollama.
    override = env.get("OLLAMA_MODELS")
    if override:
        return [Path(override).expanduser()]
    dirs = [home / ".ollama" / "models"]
    if system == "Linux" and include_system_dirs:
        dirs.append(Path("/usr/share/ollama/.ollama/models"))
    return dirs


def _gpt4all_dirs(home: Path, env: Mapping[str, str], system: str) -> list[Path]:
    # The desktop app's default is Qt's app-local data folder; its "modelPath" setting lives in
    # a QSettings file that is a plain INI only on Linux (registry on Windows, plist on macOS).
    # The gpt4all Python package downloads to ~/.cache/gpt4all.
    dirs: list[Path] = []
    if system == "Darwin":
        dirs.append(home / "Library" / "Application Support" / "nomic.ai" / "GPT4All")
    elif system == "Windows":
        dirs.append(Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local") / "nomic.ai" / "GPT4All")
    else:
        data_home = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
        dirs.append(data_home / "nomic.ai" / "GPT4All")
        config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        model_path = _ini_value(config_home / "nomic.ai" / "GPT4All.ini", "modelPath")
        if model_path:
            dirs.insert(0, Path(model_path).expanduser())
    dirs.append(home / ".cache" / "gpt4all")
    return dirs


def _unique_roots(roots: list[SearchRoot]) -> list[SearchRoot]:
    return list(dict.fromkeys(roots))


# --- scanning ---------------------------------------------------------------------------------


def _scan_root(root: SearchRoot) -> Iterator[DiscoveredModel]:
    path = root.path
    # A folder the user added may be an Ollama store moved elsewhere (OLLAMA_MODELS set only
    # for the service); its blobs have no .gguf names, so only the manifests reveal them.
    if root.source == "ollama" or (_is_dir(path / "manifests") and _is_dir(path / "blobs")):
        yield from _scan_ollama(path, root.source)
        return
    if _is_file(path):  # a single model file added as a "folder"
        model = _found_file(path, root.source, _display_name(path.name))
        if model:
            yield model
        return
    hf_repos_only = root.source == "huggingface"
    for file, label in _walk_folder(path, hf_aware=True, hf_repos_only=hf_repos_only):
        model = _found_file(file, root.source, label)
        if model:
            yield model


def _walk_folder(
    root: Path, *, hf_aware: bool, hf_repos_only: bool = False, max_depth: int = MAX_FOLDER_DEPTH
) -> Iterator[tuple[Path, str]]:
    """(file, label) for each model-looking .gguf name below root; follows links, never loops."""
    visited: set[tuple[int, int]] = set()
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        identity = _dir_identity(folder)
        if identity is None or identity in visited:
            continue
        visited.add(identity)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:  # unreadable, vanished, or not a folder
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()  # follows symlinks; a dangling one is neither
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                if hf_aware and name.startswith(HF_REPO_PREFIX):
                    yield from _scan_hf_repo(Path(entry.path))
                elif not hf_repos_only and depth < max_depth:
                    stack.append((Path(entry.path), depth + 1))
            elif is_file and not hf_repos_only and _is_model_file_name(name, Path(entry.path)):
                yield Path(entry.path), _display_name(name)


def _scan_hf_repo(repo_dir: Path) -> Iterator[tuple[Path, str]]:
    # Hub cache layout (huggingface_hub "manage-cache" docs, and llama.cpp's hf-cache.cpp):
    # models--ORG--NAME/{blobs/<hash>, refs/<branch> = commit, snapshots/<commit>/<path> -> blob}.
    # Repo ids cannot contain "--", so the folder name splits back unambiguously.
    repo_id = repo_dir.name[len(HF_REPO_PREFIX):].replace("--", "/")
    main_commit = (_read_small_text(repo_dir / "refs" / "main") or "").strip()
    snapshots = repo_dir / "snapshots"
    try:
        revisions = sorted(e.name for e in os.scandir(snapshots) if not e.name.startswith("."))
    except OSError:
        return
    # For each file name keep one revision: the one refs/main names, else the newest download.
    best: dict[str, tuple[tuple[bool, float], Path]] = {}
    for revision in revisions:
        revision_dir = snapshots / revision
        for file, _ in _walk_folder(revision_dir, hf_aware=False):
            relative = file.relative_to(revision_dir).as_posix()
            try:
                downloaded_at = file.lstat().st_mtime
            except OSError:
                continue
            rank = (revision == main_commit, downloaded_at)
            if relative not in best or rank > best[relative][0]:
                best[relative] = (rank, file)
    for relative, (_, file) in sorted(best.items()):
        yield file, f"{repo_id}/{_display_name(relative)}"


def _scan_ollama(models_dir: Path, source: str) -> Iterator[DiscoveredModel]:
    # Ollama's store (server/modelpath.go, server/manifest.go): manifests/<registry>/<namespace>/
    # <model>/<tag> is an OCI-like JSON manifest; the layer with mediaType
    # application/vnd.ollama.image.model has digest "sha256:<hex>", stored as blobs/sha256-<hex>
    # (very old versions used "sha256:<hex>" as the file name).
    manifests = models_dir / "manifests"
    for manifest, parts in _walk_exact_depth(manifests, depth=4):
        registry, namespace, model, tag = parts
        data = _read_json(manifest)
        layers = data.get("layers") if isinstance(data, dict) else None
        if not isinstance(layers, list):
            continue
        for layer in layers:
            if not isinstance(layer, dict) or layer.get("mediaType") != OLLAMA_MODEL_MEDIA_TYPE:
                continue
            digest = layer.get("digest")
            if not isinstance(digest, str) or ":" not in digest:
                continue
            algorithm, _, hex_digest = digest.partition(":")
            for blob_name in (f"{algorithm}-{hex_digest}", digest):
                blob = models_dir / "blobs" / blob_name
                if _is_file(blob):
                    found = _found_file(blob, source, _ollama_name(registry, namespace, model, tag))
                    if found:
                        yield found
                    break
            break


def _ollama_name(registry: str, namespace: str, model: str, tag: str) -> str:
    # Named as `ollama list` shows them: the default registry and "library" namespace are implied.
    if registry == OLLAMA_DEFAULT_REGISTRY:
        if namespace == OLLAMA_DEFAULT_NAMESPACE:
            return f"{model}:{tag}"
        return f"{namespace}/{model}:{tag}"
    return f"{registry}/{namespace}/{model}:{tag}"


def _walk_exact_depth(root: Path, depth: int) -> Iterator[tuple[Path, tuple[str, ...]]]:
    """Files exactly `depth` levels below root, with the names on the way."""
    stack: list[tuple[Path, tuple[str, ...]]] = [(root, ())]
    while stack:
        folder, parts = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            here = (*parts, entry.name)
            try:
                if len(here) < depth and entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), here))
                elif len(here) == depth and entry.is_file():
                    yield Path(entry.path), here
            except OSError:
                continue


# --- single files -----------------------------------------------------------------------------


def _is_model_file_name(name: str, path: Path) -> bool:
    lowered = name.lower()
    if not lowered.endswith(".gguf"):
        return False
    if lowered.endswith(PARTIAL_DOWNLOAD_SUFFIXES) or lowered.startswith(PARTIAL_DOWNLOAD_PREFIXES):
        return False
    # Multimodal projectors are named mmproj-*.gguf, sometimes <model>-mmproj-*.gguf; they are
    # loaded beside a model, never alone.
    if "mmproj" in lowered:
        return False
    shard = SHARD_PATTERN.search(name)
    if shard:
        index, count = int(shard.group(1)), int(shard.group(2))
        # llama.cpp loads a split model from its first shard and finds the rest beside it.
        return index == 1 and _all_shards_present(path, shard, count)
    return True


def _all_shards_present(first: Path, shard: re.Match[str], count: int) -> bool:
    stem = first.name[: shard.start()]
    width = len(shard.group(2))
    for index in range(2, count + 1):
        sibling = first.with_name(f"{stem}-{index:0{width}d}-of-{shard.group(2)}{shard.group(3)}")
        if not _is_file(sibling):
            return False
    return True


def _display_name(name: str) -> str:
    """The name with a split model's "-00001-of-00003" removed, so it names the whole model."""
    return SHARD_PATTERN.sub(r"\3", name)


def _found_file(path: Path, source: str, label: str) -> DiscoveredModel | None:
    """Every file that looks like a model by its name, whatever is inside it (None: it vanished).

    Empty files, Git LFS pointers and other non-GGUF content are listed too: reading the metadata
    (catalog.infos) says why each cannot be used, so nothing the user put there silently disappears.
    """
    try:
        size = path.stat().st_size
    except OSError:
        return None
    return DiscoveredModel(path=Path(os.path.abspath(path)), source=source, label=label, size_bytes=size)


def _file_identity(path: Path) -> object | None:
    # Inode identity also catches hard links (`lms import --hard-link`); the resolved path is
    # the fallback where a file system reports no inode numbers.
    try:
        stat = path.stat()
    except OSError:
        return None
    if stat.st_ino:
        return (stat.st_dev, stat.st_ino)
    return os.path.normcase(str(path.resolve()))


def _dir_identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _read_small_text(path: Path) -> str | None:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            return handle.read(MAX_SMALL_FILE_BYTES)
    except OSError:
        return None


def _read_json(path: Path) -> object:
    text = _read_small_text(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _ini_value(path: Path, key: str) -> str | None:
    """One key of a Qt INI file, read as plain lines (Qt quotes values only when they need it)."""
    text = _read_small_text(path)
    if text is None:
        return None
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value or None
    return None
