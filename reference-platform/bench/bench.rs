//! Benchmark of the reference platform on loopback with a real SQLite file, driven by the
//! profile client:
//!
//! 1. registers and logs in `--learners` learners (liveness on every login) with
//!    `--login-concurrency` parallel logins, and reports logins with liveness per second;
//! 2. runs one playback per learner and sends heartbeats open-loop: each playback sends one
//!    heartbeat every 10 cohort seconds, so with scale `--scale` the offered rate is
//!    `learners × scale / 10` heartbeats per wall second (1,000 learners at scale 50 = 5,000/s);
//!    answers the popups it gets; reports heartbeats/s and p50/p99/max latency;
//! 3. with `--wrk`, runs `wrk` against `GET /profile/v1/meta` of the same server as the ceiling.
//!
//! The load generator shares the machine with the platform, so it is kept lean: one shared
//! profile client for setup; in the timed phase each player uses its own keep-alive connection
//! (like `wrk`) for its playback, heartbeats, popup answers and captures; capture images are
//! rendered during setup. The CPU time of the heartbeat phase (this process, per thread kind, and the whole
//! machine) is reported so that runs on a busy machine can be judged.
//!
//! Every loop is bounded in count and time; only loopback addresses are used.
//!
//! `cargo run --release -p duxue-platform --example bench -- --learners 1000 --scale 50 --seconds 20 --wrk`

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use duxue_platform::{PlatformConfig, start};
use duxue_profile::*;

struct Args {
    learners: usize,
    scale: f64,
    seconds: f64,
    login_concurrency: usize,
    wrk: bool,
}

fn args() -> Args {
    let mut a = Args {
        learners: 1000,
        scale: 50.0,
        seconds: 20.0,
        login_concurrency: 8,
        wrk: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--learners" => a.learners = value().parse().unwrap_or(a.learners),
            "--scale" => a.scale = value().parse().unwrap_or(a.scale),
            "--seconds" => a.seconds = value().parse().unwrap_or(a.seconds),
            "--login-concurrency" => {
                a.login_concurrency = value().parse().unwrap_or(a.login_concurrency)
            }
            "--wrk" => a.wrk = true,
            other => eprintln!("ignoring unknown argument {other}"),
        }
    }
    a.learners = a.learners.clamp(1, 5000);
    a.seconds = a.seconds.clamp(1.0, 300.0);
    a
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// CPU seconds used so far by this process, in total and per thread name (live threads only).
fn cpu_seconds() -> (f64, std::collections::BTreeMap<String, f64>) {
    fn ticks(stat: &str) -> Option<(String, f64)> {
        let (head, tail) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_owned();
        let f: Vec<&str> = tail.split_whitespace().collect();
        let t = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        Some((comm, t / 100.0))
    }
    let total = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| ticks(&s))
        .map_or(0.0, |(_, t)| t);
    let mut by_name = std::collections::BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for task in dir.flatten() {
            if let Some((comm, t)) = std::fs::read_to_string(task.path().join("stat"))
                .ok()
                .and_then(|s| ticks(&s))
            {
                *by_name.entry(comm).or_insert(0.0) += t;
            }
        }
    }
    (total, by_name)
}

/// Busy and total jiffies of the whole machine (`/proc/stat`).
fn machine_jiffies() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

fn media_challenge(ch: &LivenessChallenge) -> duxue_media::Challenge {
    duxue_platform::biometrics::media_challenge(&ch.nonce, &ch.actions)
}

/// Heartbeat errors printed so far (the first few are shown).
static PRINTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A player's own keep-alive HTTP/1.1 connection (like `wrk`, one connection per simulated
/// player) for everything it does while playing: start, heartbeats, popup answers, captures.
/// Request heads are prepared once; answers are read by their `Content-Length`. Reconnects
/// once when the server closed the connection.
struct PlayerConn {
    addr: std::net::SocketAddr,
    auth: String,
    stream: Option<tokio::io::BufReader<tokio::net::TcpStream>>,
    out: Vec<u8>,
    body: Vec<u8>,
}

impl PlayerConn {
    fn new(addr: std::net::SocketAddr, token: &str) -> Self {
        PlayerConn {
            addr,
            auth: format!("host: {addr}\r\nauthorization: Bearer {token}\r\n"),
            stream: None,
            out: Vec::with_capacity(512),
            body: Vec::with_capacity(1024),
        }
    }

    async fn connect(&mut self) -> std::io::Result<()> {
        let s = tokio::net::TcpStream::connect(self.addr).await?;
        s.set_nodelay(true)?;
        self.stream = Some(tokio::io::BufReader::new(s));
        Ok(())
    }

    /// `POST {BASE_PATH}{path}` with a JSON body; the answer when its status is `expect`.
    async fn post<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
        &mut self,
        path: &str,
        req: &Req,
        expect: u16,
    ) -> Result<Resp, String> {
        let json = serde_json::to_vec(req).map_err(|e| e.to_string())?;
        self.out.clear();
        self.out.extend_from_slice(
            format!(
                "POST {BASE_PATH}{path} HTTP/1.1\r\n{}content-type: application/json\r\ncontent-length: {}\r\n\r\n",
                self.auth,
                json.len()
            )
            .as_bytes(),
        );
        self.out.extend_from_slice(&json);
        let status = match self.exchange().await {
            Ok(status) => status,
            Err(_) => {
                // the server may have closed an idle connection: retry once on a new one
                self.stream = None;
                self.exchange().await.map_err(|e| e.to_string())?
            }
        };
        if status != expect {
            return Err(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&self.body)
            ));
        }
        serde_json::from_slice(&self.body).map_err(|e| e.to_string())
    }

    async fn exchange(&mut self) -> std::io::Result<u16> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
        if self.stream.is_none() {
            self.connect().await?;
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(bad("no connection"));
        };
        stream.get_mut().write_all(&self.out).await?;
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Err(bad("connection closed"));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad status line"))?;
        let mut length = 0usize;
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                return Err(bad("connection closed"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("bad content-length"))?;
            }
        }
        self.body.resize(length, 0);
        stream.read_exact(&mut self.body).await?;
        Ok(status)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args();
    let dir = tempfile::tempdir()?;
    let token = "bench-token";
    let config = PlatformConfig {
        database: dir.path().join("bench.sqlite"),
        policy: Policy::builtin("xuchang-2022").ok_or("no policy")??,
        application: ApplicationForm::reference()?,
        conformance_token: Some(token.into()),
        defects: vec![],
        variants: vec![],
        seed: Some(1),
        production_clock_scale: 1.0,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let platform = start(config, listener).await?;
    let base = platform.base_url();
    let mut cc = ClientConfig::new(&base);
    cc.conformance_token = Some(token.into());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(30))
        .build()?;
    let c = ProfileClient::with_http(http, cc);

    // -- setup: cohort, enterprise, course, class --------------------------------------------
    let cohort = c
        .create_cohort(&CohortRequest {
            label: "bench".into(),
            clock_scale: a.scale,
            start_at: None,
        })
        .await?;
    let ent = c
        .create_organisation(&OrganisationRequest {
            cohort_id: cohort.cohort_id.clone(),
            name: "企业".into(),
            kind: OrganisationKind::Enterprise,
        })
        .await?;
    let course = c
        .list_courses()
        .await?
        .courses
        .into_iter()
        .find(|co| co.delivery == Delivery::PureOnline)
        .ok_or("no pure-online course")?;
    let class = c
        .create_class(&ClassRequest {
            course_id: course.course_id.clone(),
            organiser_id: ent.organisation_id.clone(),
            name: "bench".into(),
        })
        .await?;

    // -- registrations and logins with liveness --------------------------------------------------
    println!("registering {} learners…", a.learners);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let login_latencies = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let sessions = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    let mut login_time = Duration::ZERO;
    for _ in 0..a.login_concurrency {
        let (c, next, lat, sessions) = (
            c.clone(),
            next.clone(),
            login_latencies.clone(),
            sessions.clone(),
        );
        let (org, class_id, lesson) = (
            ent.organisation_id.clone(),
            class.class_id.clone(),
            course.lessons[0].lesson_id.clone(),
        );
        let n = a.learners;
        tasks.push(tokio::spawn(async move {
            let mut spent = Duration::ZERO;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let who = duxue_media::identity(10_000 + i as u64);
                let reg = RegistrationRequest {
                    name: who.name.clone(),
                    id_number: who.id_number.clone(),
                    phone: who.phone.clone(),
                    password: "bench-pass".into(),
                    organisation_id: org.clone(),
                    id_card_image: b64(&duxue_media::id_card_image(&who, 1)),
                    face_image: b64(&duxue_media::face_image(&who, 2)),
                };
                if c.register_learner(&reg).await.is_err() {
                    continue; // the synthetic matcher's rare false non-match
                }
                let t = Instant::now();
                let Ok(ch) = c.request_challenge(&who.id_number).await else {
                    continue;
                };
                let frames = duxue_media::liveness_frames(&who, &media_challenge(&ch), 3);
                let frames: Vec<String> = frames.iter().map(|f| b64(f)).collect();
                let sent = Instant::now();
                let login = c
                    .login(&LoginRequest {
                        id_number: who.id_number.clone(),
                        password: "bench-pass".into(),
                        challenge_id: ch.challenge_id,
                        frames,
                        device_id: None,
                    })
                    .await;
                lat.lock().push(sent.elapsed());
                spent += t.elapsed();
                let Ok(s) = login else { continue };
                let Ok(e) = c.enrol(&s.token, &class_id).await else {
                    continue;
                };
                // the learner's camera frame for captures, rendered before the timed phase
                let capture = b64(&duxue_media::capture_image(&who, 7));
                sessions
                    .lock()
                    .push((s.token, e.enrolment_id, lesson.clone(), capture));
            }
            spent
        }));
    }
    for t in tasks {
        login_time = login_time.max(t.await.unwrap_or_default());
    }
    let setup = started.elapsed();
    let mut lat = login_latencies.lock().clone();
    lat.sort();
    let sessions = sessions.lock().clone();
    println!(
        "logins with liveness: {} in {:.1} s of login work over {} parallel clients (setup incl. registration {:.1} s)",
        lat.len(),
        login_time.as_secs_f64(),
        a.login_concurrency,
        setup.as_secs_f64()
    );
    println!(
        "  login request latency p50 {:.1} ms, p99 {:.1} ms; throughput ≈ {:.0} logins/s (server side: {:.0}/s at this concurrency)",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.len() as f64 / login_time.as_secs_f64().max(1e-9),
        a.login_concurrency as f64 / percentile(&lat, 0.5).as_secs_f64().max(1e-9),
    );

    // -- heartbeats: one playback per learner, open loop --------------------------------------------
    // Each player's connection is opened before the timed phase (the playback itself starts in
    // the timed phase, right before its first heartbeat: a silent playback would be stopped).
    let addr = platform.local_addr();
    let mut players = Vec::new();
    for (token, enrolment, lesson, capture) in sessions {
        let mut conn = PlayerConn::new(addr, &token);
        if conn.connect().await.is_ok() {
            players.push((conn, enrolment, lesson, capture));
        }
    }
    let interval = Duration::from_secs_f64(10.0 / a.scale);
    println!(
        "{} playbacks, one heartbeat every {:.0} ms each: offered {:.0} heartbeats/s for {} s",
        players.len(),
        interval.as_secs_f64() * 1e3,
        players.len() as f64 / interval.as_secs_f64(),
        a.seconds
    );
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds) + interval;
    let (cpu_before, threads_before) = cpu_seconds();
    let machine_before = machine_jiffies();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let n = players.len().max(1);
    let mut tasks = Vec::new();
    for (i, (mut conn, enrolment, lesson, capture)) in players.into_iter().enumerate() {
        let scale = a.scale;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            // spread the playbacks over one interval
            tokio::time::sleep(interval.mul_f64(i as f64 / n as f64)).await;
            let request = PlaybackRequest {
                enrolment_id: enrolment,
                lesson_id: lesson,
            };
            let pb: Playback = match conn.post("/playbacks", &request, 201).await {
                Ok(pb) => pb,
                Err(e) => {
                    eprintln!("start playback: {e}");
                    return (lat, 1);
                }
            };
            let heartbeats = format!("/playbacks/{}/heartbeats", pb.playback_id);
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut pos = 0.0f64;
            let mut last = Instant::now();
            for _ in 0..1_000_000 {
                let tick = ticker.tick().await;
                if Instant::now() > deadline {
                    break;
                }
                // the player plays on from the position the platform last accepted
                pos += last.elapsed().as_secs_f64() * scale;
                let req = HeartbeatRequest {
                    position_seconds: pos.min(pb.lesson_seconds),
                    rate: 1.0,
                    focused: true,
                    client_time: None,
                };
                let r: Result<HeartbeatAck, String> = conn.post(&heartbeats, &req, 200).await;
                lat.push(tick.elapsed());
                last = Instant::now();
                match r {
                    Ok(ack) => {
                        pos = ack.accepted_position;
                        for ev in ack.events {
                            let r: Result<EventOutcome, String> = match ev.kind {
                                EventKind::Popup => {
                                    let answer: String = ev
                                        .prompt
                                        .unwrap_or_default()
                                        .split_whitespace()
                                        .find(|w| {
                                            w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit())
                                        })
                                        .unwrap_or("")
                                        .into();
                                    let path = format!(
                                        "/playbacks/{}/popups/{}",
                                        pb.playback_id, ev.event_id
                                    );
                                    conn.post(&path, &PopupAnswer { answer }, 200).await
                                }
                                EventKind::Capture => {
                                    let path = format!(
                                        "/playbacks/{}/captures/{}",
                                        pb.playback_id, ev.event_id
                                    );
                                    let image = capture.clone();
                                    conn.post(&path, &CaptureUpload { image }, 200).await
                                }
                            };
                            if let Err(e) = r {
                                errors += 1;
                                if PRINTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 5 {
                                    eprintln!("event answer error: {e}");
                                }
                            }
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        if PRINTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 5 {
                            eprintln!("heartbeat error: {e}");
                        }
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            all.extend(lat);
            errors += e;
        }
    }
    all.sort();
    println!(
        "heartbeats: {} in {:.0} s = {:.0}/s; latency (from intended send time) p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; errors {}",
        all.len(),
        a.seconds,
        all.len() as f64 / a.seconds,
        percentile(&all, 0.5).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        errors
    );

    let (cpu_after, threads_after) = cpu_seconds();
    let machine_after = machine_jiffies();
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpu = cpu_after - cpu_before;
    let machine_busy =
        (machine_after.0 - machine_before.0) / (machine_after.1 - machine_before.1).max(1.0);
    println!(
        "  CPU of this process in the heartbeat phase: {cpu:.1} s ({:.0} µs per heartbeat, {:.2} cores); machine busy {:.0}% of {} cores; loadavg {} → {}",
        cpu * 1e6 / (all.len() as f64).max(1.0),
        cpu / a.seconds,
        machine_busy * 100.0,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before.split_whitespace().next().unwrap_or("?"),
        load_after.split_whitespace().next().unwrap_or("?"),
    );
    let mut by_kind: Vec<(String, f64)> = threads_after
        .iter()
        .map(|(name, t)| {
            (
                name.clone(),
                t - threads_before.get(name).copied().unwrap_or(0.0),
            )
        })
        .filter(|(_, t)| *t > 0.05)
        .collect();
    by_kind.sort_by(|x, y| y.1.total_cmp(&x.1));
    let by_kind: Vec<String> = by_kind
        .iter()
        .map(|(name, t)| format!("{name} {t:.1} s"))
        .collect();
    println!("  by thread (live threads): {}", by_kind.join(", "));

    if a.wrk {
        let url = format!("{base}/profile/v1/meta");
        println!("ceiling: wrk -t2 -c100 -d10s {url}");
        match std::process::Command::new("wrk")
            .args(["-t2", "-c100", "-d10s", "--latency", &url])
            .output()
        {
            Ok(out) => println!("{}", String::from_utf8_lossy(&out.stdout)),
            Err(e) => println!("wrk not available: {e}"),
        }
    }
    platform.shutdown().await?;
    Ok(())
}
