//! Times DeviceDetector's rules on user agents read from stdin.
fn main() {
    let dir = std::env::args().nth(1).expect("usage: detect DIR < agents");
    let t = std::time::Instant::now();
    let d = hitmap_intake::enrich::Detector::load(&dir).unwrap();
    eprintln!("load {:?}", t.elapsed());
    let lines: Vec<String> = std::io::stdin().lines().map(Result::unwrap).collect();
    for round in 0..2 {
        let mut n = 0;
        let t = std::time::Instant::now();
        for line in &lines {
            let t1 = std::time::Instant::now();
            let r = d.detect(line);
            n += 1;
            if round == 0 && (n <= 2 || t1.elapsed().as_millis() > 50) {
                eprintln!("{:?} {:?} {line}", t1.elapsed(), r);
            }
        }
        eprintln!("{n} agents in {:?}", t.elapsed());
    }
}
