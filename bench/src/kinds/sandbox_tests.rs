//! Sandbox tests: what untrusted Python must not be able to do, and that the
//! scorer always comes back.

use super::*;

fn run(src: &str) -> PythonRun {
    run_python(src, Duration::from_secs(5))
}

#[test]
fn plain_program_passes_and_exception_fails() {
    assert_eq!(run("x = 1 + 1\nassert x == 2\n").outcome, Outcome::Passed);
    let r = run("assert 1 == 2, 'nope'\n");
    assert!(matches!(&r.outcome, Outcome::Failed(m) if m.contains("AssertionError")), "{r:?}");
}

#[test]
fn early_exit_and_segfault_fail() {
    let r = run("import sys\nsys.exit(0)\n");
    assert!(matches!(r.outcome, Outcome::Failed(_)), "{r:?}");
    let r = run("import os\nos._exit(0)\n");
    assert!(matches!(r.outcome, Outcome::Failed(_)), "{r:?}");
    let r = run("import ctypes\nctypes.string_at(0)\n");
    assert!(matches!(r.outcome, Outcome::Failed(_)), "{r:?}");
}

#[test]
fn infinite_loop_is_killed() {
    let r = run_python("while True:\n    pass\n", Duration::from_secs(1));
    assert_eq!(r.outcome, Outcome::TimedOut);
    // Not a speed check: a scorer that waited for the loop would never return.
    assert!(r.elapsed < Duration::from_secs(30), "{:?}", r.elapsed);
    let r = run_python("import time\ntime.sleep(3600)\n", Duration::from_secs(1));
    assert_eq!(r.outcome, Outcome::TimedOut);
}

#[test]
fn network_is_unreachable() {
    for src in [
        "import socket\ns = socket.socket()\n",
        "import socket\nsocket.create_connection(('127.0.0.1', 9))\n",
        "import _socket\n_socket.socket()\n",
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/')\n",
    ] {
        let r = run(src);
        assert!(matches!(r.outcome, Outcome::Failed(_)), "{src}: {r:?}");
    }
}

#[test]
fn cannot_write_outside_or_spawn() {
    let outside = std::env::temp_dir().join(format!("noa-sandbox-escape-{}", std::process::id()));
    let p = outside.display();
    for src in [
        format!("open('{p}', 'w').write('x')\n"),
        format!("import os\nos.open('{p}', os.O_WRONLY | os.O_CREAT)\n"),
        format!("import _io\n_io.FileIO('{p}', 'w')\n"),
        format!("import pathlib\npathlib.Path('{p}').write_text('x')\n"),
        format!("import os\nos.mkdir('{p}')\n"),
        "import os\nos.system('true')\n".to_string(),
        "import subprocess\nsubprocess.run(['true'])\n".to_string(),
        "import os\nos.remove('/etc/hostname')\n".to_string(),
    ] {
        let r = run(&src);
        assert!(matches!(r.outcome, Outcome::Failed(_)), "{src}: {r:?}");
    }
    assert!(!outside.exists(), "the sandbox wrote {p}");
    // Inside its own directory a program may write.
    assert_eq!(run("open('scratch.txt', 'w').write('ok')\n").outcome, Outcome::Passed);
}

#[test]
fn memory_hog_fails() {
    let r = run("x = bytearray(4 << 30)\n");
    assert!(matches!(r.outcome, Outcome::Failed(_)), "{r:?}");
}
