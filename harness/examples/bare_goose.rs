//! The baseline of the population benchmark: bare goose 0.19 sending the population's heartbeat
//! pattern (one POST per learner every `--interval-ms`, bearer token, small JSON body) to the
//! same endpoint of the reference platform, with one shared client. Prints how many requests it
//! sent; `bench/population.sh` measures its CPU time and peak RSS with /usr/bin/time.
//!
//! Usage: bare_goose --host URL --users N --interval-ms MS --ramp-up S --hold S

use std::time::Duration;

use goose::config::{GooseConfiguration, GooseDefault, GooseDefaultType};
use goose::prelude::*;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

async fn heartbeat(user: &mut GooseUser) -> TransactionResult {
    let path = "/profile/v1/playbacks/pb_bench/heartbeats";
    let body = serde_json::json!({"position_seconds": 12.5, "rate": 1.0, "focused": true});
    let builder = user
        .get_request_builder(&GooseMethod::Post, path)?
        .bearer_auth("tok_bench")
        .json(&body);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path(path)
        .expect_status_code(401)
        .set_request_builder(builder)
        .build();
    user.request(request).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let host = arg("--host", "http://127.0.0.1:8080");
    let users: usize = arg("--users", "1000").parse().unwrap_or(1000);
    let interval: u64 = arg("--interval-ms", "10000").parse().unwrap_or(10_000);
    let ramp: u64 = arg("--ramp-up", "30").parse().unwrap_or(30);
    let hold: u64 = arg("--hold", "30").parse().unwrap_or(30);
    let mut config = GooseConfiguration::default();
    config.host = Some(host);
    config.no_telnet = true;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.quiet = 1;
    let plan = format!("{users},{ramp}s;{users},{hold}s;0,0s");
    let wait = Duration::from_millis(interval);
    let metrics = GooseAttack::initialize_with_config(config)?
        .set_default(GooseDefault::TestPlan, plan.as_str())?
        .set_client_builder_without_cookies(
            goose::client::GooseClientBuilder::new()
                .without_cookies()
                .timeout(Duration::from_secs(30)),
        )?
        .register_scenario(
            scenario!("Heartbeats")
                .set_wait_time(wait, wait)?
                .register_transaction(transaction!(heartbeat)),
        )
        .execute()
        .await?;
    let requests: usize = metrics
        .requests
        .values()
        .map(|r| r.success_count + r.fail_count)
        .sum();
    println!("{{\"users\": {users}, \"requests\": {requests}}}");
    Ok(())
}
