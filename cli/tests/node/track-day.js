// Sends a scripted day of visits to a hitmap server with npm's
// `matomo-tracker` (Matomo's Node.js client): single requests with
// track(), the rest with trackBulk(). Usage: node track-day.js BASE_URL SCRIPT.json
// SCRIPT.json: {"single": [{param: value}], "bulk": [{param: value}]}.
'use strict';
const fs = require('fs');
const http = require('http');
const MatomoTracker = require('matomo-tracker');

// One connection per request, closed after it: node then exits once every
// response is in (Node 20's default agent keeps idle connections open).
http.globalAgent = new http.Agent({ keepAlive: false });

const [base, scriptPath] = process.argv.slice(2);
const script = JSON.parse(fs.readFileSync(scriptPath, 'utf8'));
const tracker = new MatomoTracker(1, base + '/matomo.php');
tracker.on('error', (e) => {
  console.error('tracking error:', e);
  process.exitCode = 1;
});
// send_image=0: Matomo answers 204, so this client (which never reads a
// response body) frees each connection and node exits when all are done.
for (const options of script.single) {
  tracker.track(Object.assign({ send_image: 0 }, options));
}
tracker.trackBulk(script.bulk, (body) => {
  console.log(body);
});
