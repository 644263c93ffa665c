//! The browser tests (tests/browser, headless Chromium driven by playwright-core) against an app
//! started by the same `spawn_app()` as every other end-to-end test, so they run on the test
//! host or on real Spin alike. Needs Node.js, `npm ci` in tests/browser and /usr/bin/chromium
//! (or `CHROMIUM`); `.ci/run` installs them.

use e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, spawn_app, workspace_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_widget_and_the_console_work_in_a_real_browser() {
    let app = spawn_app().await;
    let browser_tests = workspace_root().join("tests/browser");
    assert!(
        browser_tests.join("node_modules/playwright-core").exists(),
        "run `npm ci` in {} first (tests/run-all does)",
        browser_tests.display()
    );
    let status = tokio::process::Command::new("node")
        .arg("--test")
        .arg(&browser_tests)
        .env("LIVECHAT_URL", &app.base)
        .env("LIVECHAT_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("LIVECHAT_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .status()
        .await
        .expect("node runs (is Node.js installed?)");
    assert!(
        status.success(),
        "browser tests failed; screenshots in tests/browser/artifacts/"
    );
}
