// WireWarp's read-only status page: fetches /status.json (the fleet snapshot, see
// reconciler/api/API.md) every 5 seconds and redraws without reloading. Every value from the
// snapshot reaches the page through textContent: descriptions, commit messages and errors come
// from git and agents, so nothing here ever parses data as HTML. Relative times are computed
// against the snapshot's own "now", so the page agrees with the reconciler's clock.
'use strict';

(function () {
  const kRefreshMilliseconds = 5000;
  // A handshake younger than this is a live tunnel (WireGuard re-keys every 2 minutes).
  const kFreshHandshakeSeconds = 180;
  const kPhaseLabels = {
    'converged': 'Converged',
    'pending': 'Pending',
    'drift-reported': 'Drift',
    'degraded': 'Degraded',
    'disconnected': 'Disconnected',
    'render-failed': 'Render failed',
    'deleted': 'Deleted',
    'unknown': 'Unknown',
  };
  const kPhaseTones = {
    'converged': 'good',
    'pending': 'warn',
    'drift-reported': 'warn',
    'degraded': 'bad',
    'disconnected': 'bad',
    'render-failed': 'bad',
    'deleted': 'bad',
    'unknown': 'muted',
  };
  const kForwardTones = { 'applied': 'good', 'pending': 'warn', 'failed': 'bad' };

  let lastSuccess = null;

  // ---------------------------------------------------------------------------------------
  // DOM helpers: the only way this file creates nodes.

  // el('td', {className: 'x', title: 'y', label: 'Agent'}, child, 'text', ...)
  function el(tag, options, ...children) {
    const node = document.createElement(tag);
    const settings = options || {};
    if (settings.className) node.className = settings.className;
    if (settings.title !== undefined && settings.title !== '') node.title = String(settings.title);
    // The column name a narrow screen shows beside the value (CSS attr(data-label)).
    if (settings.label) node.dataset.label = settings.label;
    if (settings.id) node.id = settings.id;
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) {
        append(node, child);
      } else if (child instanceof Node) {
        node.appendChild(child);
      } else {
        node.appendChild(document.createTextNode(String(child)));
      }
    }
  }

  function pill(text, tone, title) {
    return el('span', { className: 'pill pill-' + tone, title: title }, text);
  }

  function muted(text) {
    return el('span', { className: 'muted' }, text);
  }

  function mono(text, title) {
    return el('code', { className: 'mono', title: title }, text);
  }

  function section(id, title, summary, ...body) {
    const heading = el('div', { className: 'section-head' }, el('h2', {}, title));
    if (summary) heading.appendChild(el('div', { className: 'section-summary' }, summary));
    return el('section', { id: id, className: 'card' }, heading, body);
  }

  function table(className, headers, rows) {
    const head = el('tr', {}, headers.map((name) => el('th', { className: 'col-' + slug(name) }, name)));
    return el('div', { className: 'table-wrap' },
      el('table', { className: 'table ' + className }, el('thead', {}, head), el('tbody', {}, rows)));
  }

  function cell(label, ...children) {
    // One wrapper, so a narrow screen's two-column grid sees the label and a single value.
    return el('td', { label: label, className: 'col-' + slug(label) }, el('div', { className: 'cell-value' }, children));
  }

  function slug(text) {
    return String(text).toLowerCase().replace(/[^a-z0-9]+/g, '-');
  }

  function emptyNote(text) {
    return el('p', { className: 'empty' }, text);
  }

  // ---------------------------------------------------------------------------------------
  // Formatting

  function ago(seconds) {
    if (seconds === null || seconds === undefined) return 'never';
    const value = Math.max(0, Math.round(seconds));
    if (value < 60) return value + ' s ago';
    if (value < 3600) return Math.floor(value / 60) + ' min ago';
    if (value < 86400) return Math.floor(value / 3600) + ' h ago';
    return Math.floor(value / 86400) + ' d ago';
  }

  function since(now, at) {
    if (at === null || at === undefined) return 'never';
    return ago(now - at);
  }

  function duration(seconds) {
    const value = Math.max(0, Math.round(seconds));
    if (value < 60) return value + ' s';
    if (value < 3600) return Math.floor(value / 60) + ' min';
    if (value < 86400) return Math.floor(value / 3600) + ' h';
    return Math.floor(value / 86400) + ' d';
  }

  function bytes(count) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let value = Number(count) || 0;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    if (unit === 0) return value + ' B';
    return (value < 10 ? value.toFixed(1) : Math.round(value).toString()) + ' ' + units[unit];
  }

  function timestamp(unixSeconds) {
    if (!unixSeconds) return '';
    const date = new Date(unixSeconds * 1000);
    const pad = (n) => String(n).padStart(2, '0');
    return date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) + ' ' +
      pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds());
  }

  function shortSha(sha) {
    return sha ? String(sha).slice(0, 7) : '';
  }

  function firstLine(text) {
    return String(text || '').split('\n')[0];
  }

  function plural(count, one, many) {
    return count + ' ' + (count === 1 ? one : (many || one + 's'));
  }

  // ---------------------------------------------------------------------------------------
  // Fleet health, the same rules as /badge.svg (reconciler/status/badge.cc).

  function assess(snapshot) {
    const agents = snapshot.agents || [];
    const forwards = snapshot.forwards || [];
    const badAgents = agents.filter((a) => !a.connected || kPhaseTones[a.phase] === 'bad');
    const pendingAgents = agents.filter((a) => a.connected && kPhaseTones[a.phase] !== 'bad' && a.phase !== 'converged');
    const failedForwards = forwards.filter((f) => f.state === 'failed');
    // Agents the revision names that have not enrolled yet: expected on a fresh install, not a fault.
    const unenrolled = agents.filter((a) => a.enrolled === false);
    if (!snapshot.revision) return { state: 'none', badAgents, pendingAgents, failedForwards, unenrolled };
    if (snapshot.converged) return { state: 'converged', badAgents, pendingAgents, failedForwards, unenrolled };
    if (unenrolled.length > 0 && failedForwards.length === 0 && badAgents.every((a) => a.enrolled === false)) {
      return { state: 'enrollment', badAgents, pendingAgents, failedForwards, unenrolled };
    }
    if (badAgents.length > 0 || failedForwards.length > 0) {
      return { state: 'degraded', badAgents, pendingAgents, failedForwards, unenrolled };
    }
    return { state: 'pending', badAgents, pendingAgents, failedForwards, unenrolled };
  }

  // ---------------------------------------------------------------------------------------
  // Sections

  function renderBanner(snapshot, health) {
    const agents = snapshot.agents || [];
    const revision = snapshot.revision;
    let title;
    let detail;
    let tone;
    if (health.state === 'none') {
      tone = 'muted';
      title = 'No revision yet';
      detail = 'Push a commit to the fleet repository or run "wwctl apply" to create the first revision.';
    } else if (health.state === 'converged') {
      tone = 'good';
      title = 'Fleet converged';
      detail = 'All ' + plural(agents.length, 'agent') + ' run revision #' + revision.id + '.';
    } else if (health.state === 'enrollment') {
      tone = 'warn';
      title = 'Waiting for enrollment';
      const names = health.unenrolled.map((a) => a.name);
      detail = (names.length === 1 ? names[0] + ' has'
        : names.slice(0, -1).join(', ') + ' and ' + names[names.length - 1] + ' have') +
        ' not enrolled yet. On the control host, run the command for each and then the install command it prints on that host:';
    } else if (health.state === 'degraded') {
      tone = 'bad';
      title = 'Fleet degraded';
      const problems = health.badAgents.map((a) => a.name + ' ' + (kPhaseLabels[a.phase] || a.phase || 'unknown').toLowerCase());
      if (health.failedForwards.length > 0) problems.push(plural(health.failedForwards.length, 'forward') + ' failed');
      if (health.pendingAgents.length > 0) problems.push(plural(health.pendingAgents.length, 'agent') + ' pending');
      detail = problems.join(' · ');
    } else {
      tone = 'warn';
      title = 'Converging';
      detail = health.pendingAgents.length + ' of ' + plural(agents.length, 'agent') + ' still applying revision #' + revision.id + '.';
    }
    const body = el('div', { className: 'banner-body' },
      el('h1', { className: 'banner-title', id: 'banner-title' }, title),
      el('p', { className: 'banner-detail', id: 'banner-detail' }, detail));
    if (health.state === 'enrollment') {
      body.appendChild(el('ul', { className: 'enroll-commands', id: 'enroll-commands' },
        health.unenrolled.map((a) => el('li', {},
          mono('wwctl token create --type ' + (a.mode === 'server' ? 'server' : 'client') + ' --name ' + a.name)))));
    }
    if (snapshot.rejected) {
      body.appendChild(el('p', { className: 'banner-rejected' },
        'Commit ' + shortSha(snapshot.rejected.commit) + ' was rejected; revision #' +
        (revision ? revision.id : '-') + ' stays in force.'));
    }
    if (snapshot.divergence) {
      // A forced apply or rollback over git: say so until the next commit replaces it.
      const divergence = snapshot.divergence;
      body.appendChild(el('p', { className: 'banner-diverged', id: 'banner-diverged' },
        'Diverged from git at ' + shortSha(divergence.commit) + ' (override by ' + divergence.by + ' at ' +
        timestamp(divergence.at) + ', ' + divergence.source + '); the next commit replaces it.'));
    }
    if ((snapshot.revisionErrors || []).length) {
      // Rules added by an upgrade refuse the revision in force: it stays until a fixed one arrives.
      body.appendChild(el('p', { className: 'banner-rejected', id: 'banner-revision-errors' },
        'Revision #' + (revision ? revision.id : '-') + ' breaks a rule of this version and stays in force until ' +
        'a fixed revision arrives: ' + snapshot.revisionErrors.join('; ')));
    }
    const icon = el('div', { className: 'banner-icon', title: title },
      health.state === 'enrollment' ? '…' : { good: '✓', warn: '↻', bad: '!', muted: '·' }[tone]);
    document.title = 'WireWarp · ' + title;
    return el('section', { id: 'banner', className: 'banner banner-' + tone }, icon, body);
  }

  function renderTiles(snapshot) {
    const agents = snapshot.agents || [];
    const peers = [];
    for (const tunnel of snapshot.tunnels || []) peers.push(...(tunnel.peers || []));
    const forwards = snapshot.forwards || [];
    const connected = agents.filter((a) => a.connected).length;
    const live = (p) => p.handshakeAgeSeconds !== null && p.handshakeAgeSeconds !== undefined &&
      p.handshakeAgeSeconds <= kFreshHandshakeSeconds;
    // Phones and laptops (no agent) come and go; they are counted apart from the agents' peers.
    const agentPeers = peers.filter((p) => p.managed !== false);
    const devices = peers.filter((p) => p.managed === false);
    const applied = forwards.filter((f) => f.state === 'applied').length;
    const tile = (label, value, total, id, title) => {
      const tone = total === 0 ? 'muted' : (value === total ? 'good' : 'warn');
      return el('div', { className: 'tile tile-' + tone, id: id, title: title },
        el('div', { className: 'tile-value' }, String(value), el('span', { className: 'tile-total' }, ' / ' + total)),
        el('div', { className: 'tile-label' }, label));
    };
    return el('div', { className: 'tiles' },
      tile('agents connected', connected, agents.length, 'tile-agents'),
      tile('peers online', agentPeers.filter(live).length, agentPeers.length, 'tile-peers',
        'agents\' peers whose latest WireGuard handshake is under ' + duration(kFreshHandshakeSeconds) + ' old'),
      devices.length ? tile('devices online', devices.filter(live).length, devices.length, 'tile-devices',
        'unmanaged peers (phones, laptops) whose latest handshake is under ' + duration(kFreshHandshakeSeconds) + ' old') : null,
      tile('forwards applied', applied, forwards.length, 'tile-forwards'));
  }

  function renderRejected(snapshot) {
    const rejected = snapshot.rejected;
    if (!rejected) return null;
    const errors = rejected.errors || [];
    return el('section', { id: 'rejected', className: 'card card-bad' },
      el('div', { className: 'section-head' },
        el('h2', {}, 'Rejected commit'),
        el('div', { className: 'section-summary' }, since(snapshot.now, rejected.at))),
      el('p', {}, 'Commit ', mono(shortSha(rejected.commit), rejected.commit), ' is invalid (',
        plural(errors.length, 'error'), '). ',
        snapshot.revision ? 'The fleet stays on revision #' + snapshot.revision.id + '.' : 'No revision is in force.'),
      el('ul', { className: 'error-list' }, errors.map((error) => el('li', {}, mono(error)))));
  }

  function renderRevision(snapshot) {
    const revision = snapshot.revision;
    if (!revision) {
      return section('revision', 'Current revision', null, emptyNote('Nothing has been applied yet.'));
    }
    const message = String(revision.message || '');
    const lines = message.split('\n');
    const rest = lines.slice(1).join('\n').trim();
    const facts = el('dl', { className: 'facts' },
      el('dt', {}, 'Revision'), el('dd', {}, '#' + revision.id, ' ', pill(revision.source || 'unknown', 'info')),
      revision.commit ? [el('dt', {}, 'Commit'), el('dd', {}, mono(revision.commit, revision.commit))] : null,
      revision.author ? [el('dt', {}, 'Author'), el('dd', { id: 'revision-author' }, revision.author)] : null,
      el('dt', {}, 'Created'), el('dd', {}, timestamp(revision.createdAt), ' ', muted('(' + since(snapshot.now, revision.createdAt) + ')')),
      revision.appliedBy ? [el('dt', {}, 'Applied by'), el('dd', {}, mono(revision.appliedBy))] : null);
    const summary = revision.commit ? mono(shortSha(revision.commit), revision.commit) : null;
    return section('revision', 'Current revision', summary,
      message ? el('div', { className: 'commit-message', id: 'revision-message' },
        el('p', { className: 'commit-subject' }, lines[0]),
        rest ? el('p', { className: 'commit-body' }, rest) : null) : null,
      facts);
  }

  function renderSystem(system) {
    if (!system || typeof system !== 'object') return null;
    const parts = [];
    if (typeof system.cpuPercent === 'number') parts.push('CPU ' + system.cpuPercent.toFixed(1) + '%');
    if (system.memoryTotalBytes) parts.push('mem ' + bytes(system.memoryUsedBytes) + ' / ' + bytes(system.memoryTotalBytes));
    if (system.diskTotalBytes) parts.push('disk ' + bytes(system.diskUsedBytes) + ' / ' + bytes(system.diskTotalBytes));
    if (system.uptimeSeconds) parts.push('up ' + duration(system.uptimeSeconds));
    return parts.length ? el('div', { className: 'small muted' }, parts.join(' · ')) : null;
  }

  // Failed applies back off; say how many in a row and when the next attempt is due.
  function renderRetry(now, agent) {
    const parts = [];
    if (agent.consecutiveFailures > 0) parts.push(plural(agent.consecutiveFailures, 'failure') + ' in a row');
    if (agent.retryAt) parts.push(agent.retryAt > now ? 'retry in ' + duration(agent.retryAt - now) : 'retrying');
    return parts.length ? el('div', { className: 'small muted' }, parts.join(' · ')) : null;
  }

  // What the agent's config leaves out (e.g. a peer whose agent is not enrolled), one line each.
  function renderWarnings(warnings) {
    if (!warnings || warnings.length === 0) return null;
    return el('ul', { className: 'agent-warnings' }, warnings.map((warning) => el('li', { className: 'warn-text' }, warning)));
  }

  function renderAgents(snapshot) {
    const agents = snapshot.agents || [];
    const connected = agents.filter((a) => a.connected).length;
    const rows = agents.map((agent) => {
      const behind = agent.appliedGeneration !== agent.generation;
      const drift = agent.drift || [];
      // The snapshot lists the first steps only; driftCount counts them all.
      const driftCount = typeof agent.driftCount === 'number' ? agent.driftCount : drift.length;
      return el('tr', { className: 'agent-row' },
        cell('Agent', el('div', { className: 'strong' }, agent.name),
          agent.hostname && agent.hostname !== agent.name ? muted(agent.hostname) : null,
          renderSystem(agent.system)),
        cell('Mode', pill(agent.mode || 'unknown', 'info')),
        cell('Phase', pill(kPhaseLabels[agent.phase] || agent.phase || 'Unknown', kPhaseTones[agent.phase] || 'muted'),
          agent.message ? el('div', { className: 'small muted' }, agent.message) : null,
          agent.enrollCommand ? el('div', { className: 'enroll-command' }, mono(agent.enrollCommand)) : null,
          renderWarnings(agent.warnings)),
        cell('Connection',
          el('span', { className: agent.connected ? 'dot dot-good' : 'dot dot-bad' }),
          agent.connected ? 'connected' : 'disconnected',
          el('div', { className: 'small muted' },
            agent.deleted ? 'deleted ' + since(snapshot.now, agent.deletedAt)
              : agent.enrolled === false ? 'not enrolled yet' : 'seen ' + since(snapshot.now, agent.lastSeen))),
        cell('Version', agent.version ? mono(agent.version) : muted('–')),
        cell('Generation', el('span', { className: behind ? 'warn-text' : '' },
          String(agent.appliedGeneration), muted(' / ' + agent.generation)),
          behind ? el('div', { className: 'small muted' }, 'applied / latest') : null),
        cell('Drift', driftCount === 0 ? muted('none') :
          el('details', {}, el('summary', {}, plural(driftCount, 'step')),
            el('ul', { className: 'drift-list' }, drift.map((step) => el('li', {}, step)),
              driftCount > drift.length ? el('li', { className: 'muted' }, '… and ' + (driftCount - drift.length) + ' more') : null))),
        cell('Last error', agent.lastError ? el('span', { className: 'error-text' }, agent.lastError) : muted('–'),
          renderRetry(snapshot.now, agent)));
    });
    return section('agents', 'Agents', connected + ' of ' + agents.length + ' connected',
      agents.length ? table('agents-table', ['Agent', 'Mode', 'Phase', 'Connection', 'Version', 'Generation', 'Drift', 'Last error'], rows)
        : emptyNote('No agent has enrolled yet.'));
  }

  function handshake(age) {
    if (age === null || age === undefined) return pill('never', 'muted', 'no handshake yet');
    return pill(ago(age), age <= kFreshHandshakeSeconds ? 'good' : 'warn', 'latest handshake ' + duration(age) + ' ago');
  }

  function renderTunnels(snapshot) {
    const tunnels = snapshot.tunnels || [];
    const cards = tunnels.map((tunnel) => {
      const peers = tunnel.peers || [];
      const rows = peers.map((peer) => el('tr', { className: 'peer-row' },
        cell('Peer', el('span', { className: 'strong' }, peer.name)),
        cell('Agent', peer.managed === false
          ? pill('unmanaged', 'muted', 'a phone or laptop: no agent; counted under devices, not peers online')
          : (peer.agent || muted('–'))),
        cell('Address', mono(peer.address || '')),
        cell('Handshake', handshake(peer.handshakeAgeSeconds)),
        cell('Received', bytes(peer.rxBytes)),
        cell('Sent', bytes(peer.txBytes))));
      return el('div', { className: 'tunnel' },
        el('div', { className: 'tunnel-head' },
          el('h3', {}, tunnel.name),
          el('span', { className: 'muted' }, 'server ', el('span', { className: 'strong' }, tunnel.server || '–'),
            ' · ', mono(tunnel.interface || '')),
          tunnel.selfHeal ? pill('self-heal', 'info', 'drift is repaired automatically') : pill('report only', 'muted', 'drift is reported, not repaired')),
        peers.length ? table('peers-table', ['Peer', 'Agent', 'Address', 'Handshake', 'Received', 'Sent'], rows)
          : emptyNote('No peers.'));
    });
    return section('tunnels', 'Tunnels', plural(tunnels.length, 'tunnel'),
      tunnels.length ? cards : emptyNote('No tunnels in this revision.'));
  }

  function renderForwards(snapshot) {
    const forwards = snapshot.forwards || [];
    const count = (state) => forwards.filter((f) => f.state === state).length;
    const summary = el('span', {},
      ['applied', 'pending', 'failed'].map((state) =>
        [pill(count(state) + ' ' + state, count(state) ? kForwardTones[state] : 'muted'), ' ']));
    const rows = forwards.map((forward) => el('tr', { className: 'forward-row forward-' + slug(forward.state || 'unknown') },
      cell('Forward', el('div', { className: 'strong' }, forward.name),
        forward.description ? el('div', { className: 'small muted forward-description' }, forward.description) : null),
      cell('Route', mono((forward.protocol || '') + ' ' + (forward.ports || '')), ' → ', mono(forward.to || '')),
      cell('Via', forward.agent || '–', muted(' · ' + (forward.tunnel || '–'))),
      cell('State', pill(forward.state || 'unknown', kForwardTones[forward.state] || 'muted'))));
    return section('forwards', 'Port forwards', forwards.length ? summary : null,
      forwards.length ? table('forwards-table', ['Forward', 'Route', 'Via', 'State'], rows)
        : emptyNote('No port forwards in this revision.'));
  }

  function renderHistory(snapshot) {
    const revisions = snapshot.revisions || [];
    const current = snapshot.revision ? snapshot.revision.id : null;
    const rows = revisions.map((revision) => el('tr', { className: revision.id === current ? 'current' : '' },
      cell('Revision', el('span', { className: 'strong' }, '#' + revision.id),
        revision.id === current ? [' ', pill('current', 'good')] : null),
      cell('Source', pill(revision.source || 'unknown', 'info')),
      cell('Commit', revision.commit ? mono(shortSha(revision.commit), revision.commit) : muted('–')),
      cell('Author', revision.author || (revision.appliedBy ? mono(revision.appliedBy) : muted('–'))),
      cell('Message', revision.message ? firstLine(revision.message) : muted('–')),
      cell('Created', since(snapshot.now, revision.createdAt))));
    return section('history', 'Revision history', revisions.length ? plural(revisions.length, 'revision') : null,
      revisions.length ? table('history-table', ['Revision', 'Source', 'Commit', 'Author', 'Message', 'Created'], rows)
        : emptyNote('No revisions yet.'));
  }

  function eventTone(kind) {
    const text = String(kind || '');
    if (/reject|fail|error|disconnect|degrad/.test(text)) return 'bad';
    if (/drift|pending|force/.test(text)) return 'warn';
    if (/converged|accepted|connected|enrolled/.test(text)) return 'good';
    return 'info';
  }

  function renderEvents(snapshot) {
    const events = snapshot.events || [];
    const items = events.map((event) => el('li', { className: 'event' },
      el('span', { className: 'event-time', title: timestamp(event.at) }, since(snapshot.now, event.at)),
      pill(event.kind || 'event', eventTone(event.kind)),
      event.agent ? el('span', { className: 'event-agent strong' }, event.agent) : null,
      el('span', { className: 'event-message' }, event.message || '')));
    return section('events', 'Recent events', events.length ? 'latest ' + events.length : null,
      events.length ? el('ul', { className: 'events' }, items) : emptyNote('Nothing has happened yet.'));
  }

  function render(snapshot) {
    const health = assess(snapshot);
    const app = document.getElementById('app');
    const sections = [
      renderBanner(snapshot, health),
      renderTiles(snapshot),
      renderRejected(snapshot),
      el('div', { className: 'grid-2' }, renderRevision(snapshot), renderEvents(snapshot)),
      renderAgents(snapshot),
      renderTunnels(snapshot),
      renderForwards(snapshot),
      renderHistory(snapshot),
    ].filter((node) => node !== null);
    // Keep the drift lists a reader opened across refreshes.
    const open = new Set(Array.from(app.querySelectorAll('#agents details[open]'))
      .map((node) => node.closest('tr').querySelector('.strong').textContent));
    app.replaceChildren(...sections);
    for (const row of app.querySelectorAll('#agents tr.agent-row')) {
      const details = row.querySelector('details');
      if (details && open.has(row.querySelector('.strong').textContent)) details.open = true;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Refresh loop

  function setRefreshState(ok, text) {
    const refresh = document.getElementById('refresh');
    refresh.className = 'refresh ' + (ok ? 'refresh-ok' : 'refresh-bad');
    document.getElementById('refresh-text').textContent = text;
  }

  function clock(date) {
    const pad = (n) => String(n).padStart(2, '0');
    return pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds());
  }

  async function refresh() {
    try {
      const response = await fetch('/status.json', { cache: 'no-store', credentials: 'same-origin' });
      if (!response.ok) {
        let reason = 'HTTP ' + response.status;
        try {
          const body = await response.json();
          if (body && body.error) reason = body.error;
        } catch (ignored) {
          // The error body is optional; the status code says enough.
        }
        throw new Error(reason);
      }
      const snapshot = await response.json();
      render(snapshot);
      lastSuccess = new Date();
      setRefreshState(true, 'Updated ' + clock(lastSuccess));
    } catch (error) {
      const previous = lastSuccess ? ' · last update ' + clock(lastSuccess) : '';
      setRefreshState(false, 'Cannot reach the reconciler (' + error.message + ')' + previous + ' · retrying');
    } finally {
      window.setTimeout(refresh, kRefreshMilliseconds);
    }
  }

  refresh();
})();
