// The dashboard: every figure comes from the public API, as the curl line shows it.
// No build step: plain ES2020 in one file, uPlot (vendor/uplot) for the charts.
(() => {
  "use strict";

  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const $ = (id) => document.getElementById(id);
  const SERIES = "/v1/analysis/series";
  const ANALYSIS = "/v1/analysis";
  const COUNTS = ["total_posts", "minimum_timestamp", "maximum_timestamp"];
  const COLORS = ["#417690", "#e07b00", "#ba2121", "#2e7d32", "#7b3fa0", "#00838f",
    "#8d6e63", "#c2185b", "#546e7a", "#9e9d24", "#3949ab", "#6d4c41"];

  const state = {
    window: config.windows[0],
    dimensions: [config.dimensions[0]],
    percentiles: config.percentiles.join(","),
    postTypes: [],
    chart: null,
    chartKeys: "",
    rateChart: null,
    renders: 0,
    hasData: false,
    chartRequests: 0,
    timer: null,
  };

  // --- The API ------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message, body) {
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  // Commas stay readable in the query, as a person would type them in a curl line.
  function apiPath(path, params) {
    const query = Object.entries(params)
      .filter(([, value]) => value !== "" && value !== undefined)
      .map(([name, value]) => `${name}=${encodeURIComponent(value).replace(/%2C/g, ",")}`)
      .join("&");
    return query ? `${path}?${query}` : path;
  }

  async function getJson(path, params = {}) {
    const url = apiPath(path, params);
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    } catch (error) {
      throw new ApiError(0, `the server could not be reached (${error.message})`, null);
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      const message = body && body.error ? body.error : `HTTP ${response.status}`;
      throw new ApiError(response.status, message, body);
    }
    return { body, url };
  }

  // --- Formatting ---------------------------------------------------------------------

  const number = new Intl.NumberFormat("en-US");

  function age(seconds) {
    if (seconds < 10) return `${seconds.toFixed(1)} s`;
    if (seconds < 120) return `${Math.round(seconds)} s`;
    if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
    const hours = Math.floor(seconds / 3600);
    return `${hours} h ${Math.round((seconds - hours * 3600) / 60)} min`;
  }

  function utc(unix, withDate = true) {
    const text = new Date(unix * 1000).toISOString();
    return withDate ? `${text.slice(0, 10)} ${text.slice(11, 19)}` : text.slice(11, 19);
  }

  const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
  // Axes in UTC, like the API's Unix seconds and the table: HH:MM, or the day at midnight.
  const timeAxis = (u, splits) => splits.map((s) => (s % 86400 === 0 ? utc(s).slice(5, 10) : utc(s, false).slice(0, 5)));
  // uPlot's asinh splits always hold -1 (its negative side): counts have none to label.
  const countAxis = (u, splits) => splits.map((s) => (s === null || s < 0 ? "" : compact.format(s)));

  // Counts are never negative: the axis starts at 0, and ends at the next power of 10.
  const countRange = (u, min, max) => [0, uPlot.rangeAsinh(min, max, 10, true)[1]];

  function show(element, text, kind) {
    element.textContent = text;
    element.dataset.kind = kind;
    element.hidden = false;
  }

  // --- Stream health ------------------------------------------------------------------

  // /readyz answers 503 with the same body when a check fails: both are an answer.
  async function readiness() {
    try {
      return (await getJson("/readyz")).body;
    } catch (error) {
      if (error.body && error.body.checks) return error.body;
      throw error;
    }
  }

  function collectorWords(checks, stored) {
    const newest = stored && stored.newest_age_seconds !== null
      ? `newest post ${age(stored.newest_age_seconds)} ago` : "no post stored yet";
    const collector = checks.collector || "";
    if (checks.database && checks.database !== "ok") {
      return ["error", `Database unreachable: ${checks.database.replace(/^failed: /, "")}`];
    }
    if (collector === "ok") return ["ok", `Collecting, ${newest}`];
    const stale = collector.match(/last heartbeat (\d+) s ago/);
    if (stale) return ["stopped", `Collector stopped ${age(Number(stale[1]))} ago, ${newest}`];
    if (collector.includes("no collector heartbeat")) {
      return ["stopped", `No collector has run yet (start one: make run, or make demo), ${newest}`];
    }
    return ["waiting", `Not ready: ${collector || JSON.stringify(checks)}`];
  }

  async function refreshHealth() {
    const [ready, stored, rate] = await Promise.allSettled([
      readiness(),
      getJson("/v1/stored"),
      getJson(SERIES, { duration: "1h", step: "1m", dimension: config.dimensions[0] }),
    ]);
    const status = $("health-status");
    const storedBody = stored.status === "fulfilled" ? stored.value.body : null;
    if (ready.status === "fulfilled") {
      const [kind, words] = collectorWords(ready.value.checks, storedBody);
      status.dataset.state = kind;
      status.textContent = words;
    } else {
      status.dataset.state = "error";
      status.textContent = `Readiness unknown: ${ready.reason.message}`;
    }
    if (storedBody) {
      $("health-stored").textContent = number.format(storedBody.posts_stored);
      $("health-age").textContent = storedBody.newest_age_seconds === null
        ? "none yet" : `${age(storedBody.newest_age_seconds)} ago`;
    } else {
      $("health-stored").textContent = "error";
      $("health-age").textContent = "error";
      $("health-stored").title = stored.reason.message;
    }
    drawRate(rate, storedBody ? storedBody.now : Date.now() / 1000);
  }

  function drawRate(rate, now) {
    const box = $("rate-chart");
    if (rate.status === "rejected") {
      $("health-rate").textContent = "error";
      box.title = rate.reason.message;
      return;
    }
    // The current minute is still filling: its rate is over its elapsed part, and it is
    // left out for its first seconds, too few to say a rate.
    const points = rate.value.body.points.filter((p) => Math.min(p.end, now) - p.start >= 5);
    const xs = points.map((p) => Math.min(p.end, now));
    const perMinute = points.map((p) => (p.total_posts * 60) / (Math.min(p.end, now) - p.start));
    // The figure is the last whole minute.
    let last = points.length - 1;
    while (last > 0 && points[last].end > now) last -= 1;
    $("health-rate").textContent = last >= 0 ? number.format(Math.round(perMinute[last])) : "–";
    const data = [xs, perMinute];
    if (state.rateChart) {
      state.rateChart.setData(data);
      return;
    }
    state.rateChart = new uPlot({
      width: box.clientWidth,
      height: 90,
      legend: { show: false },
      cursor: { show: false },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { y: { range: (u, low, high) => [0, Math.max(high, 1) * 1.15] } },
      axes: [
        { size: 24, font: "11px system-ui", grid: { show: false }, values: timeAxis },
        {
          size: 40,
          font: "11px system-ui",
          ticks: { show: false },
          values: countAxis,
          // A small chart has room for two lines: zero and the hour's peak.
          splits: (u) => [0, Math.round(Math.max(1, ...u.data[1].filter((v) => v !== null)))],
        },
      ],
      series: [{}, { stroke: COLORS[0], fill: "rgba(65,118,144,0.15)", width: 1.5, points: { show: false } }],
    }, data, box);
  }

  // --- The percentiles chart and its table --------------------------------------------

  function seriesParams() {
    const params = {
      duration: state.window.duration,
      step: state.window.step,
      dimension: state.dimensions.join(","),
      percentiles: state.percentiles,
    };
    if (state.postTypes.length) params.post_type = state.postTypes.join(",");
    return params;
  }

  function figureKeys(points) {
    return points.length ? Object.keys(points[0]).filter((k) => k !== "start" && k !== "end" && !COUNTS.includes(k)) : [];
  }

  async function refreshChart() {
    const params = seriesParams();
    const path = apiPath(SERIES, params);
    $("curl").textContent = `curl '${window.location.origin}${path}'`;
    const message = $("chart-message");
    // Answers can overtake each other (a control changed during a refresh): draw the last.
    const request = ++state.chartRequests;
    const fetchedAt = Date.now() / 1000;
    try {
      const { body } = await getJson(SERIES, params);
      if (request !== state.chartRequests) return;
      const points = body.points;
      const keys = figureKeys(points);
      const carried = points.some((p) => keys.some((k) => p[k] !== null));
      fillTable(points, path);
      state.hasData = carried;
      if (!carried) {
        showNoData(message);
      } else {
        message.hidden = true;
        $("chart").hidden = false;
        drawChart(points);
      }
    } catch (error) {
      if (request !== state.chartRequests) return;
      state.hasData = false;
      // A 404 is "no post carries it" (analysis/exceptions.py), unless the route is missing.
      if (error.status === 404 && error.message.startsWith("no post")) {
        fillTable([], path);
        showNoData(message);
      } else {
        $("chart").hidden = true;
        clearTable(`No numbers: the API answered ${error.status || "nothing"}.`);
        show(message, `The API answered with an error (${error.status || "no answer"}): ${error.message}`, "error");
      }
    }
    const chart = $("chart");
    state.renders += 1;
    chart.dataset.renders = String(state.renders);
    chart.dataset.url = path;
    chart.dataset.fetchedAt = String(fetchedAt);
    if (!document.body.dataset.firstChartMs && !chart.hidden) {
      document.body.dataset.firstChartMs = String(Math.round(performance.now()));
    }
  }

  function showNoData(message) {
    $("chart").hidden = true;
    const types = state.postTypes.length ? ` of type ${state.postTypes.join(", ")}` : "";
    show(message,
      `No posts${types} in the last ${state.window.duration} carry ${state.dimensions.join(" or ")} yet.`
      + " If the collector is stopped (see Stream health), start it: make run, or make demo.", "empty");
  }

  function drawChart(points) {
    const keys = figureKeys(points);
    const xs = points.map((p) => p.end);
    const data = [xs, ...keys.map((k) => points.map((p) => p[k]))];
    const box = $("chart");
    const signature = keys.join(",");
    if (state.chart && state.chartKeys === signature) {
      state.chart.points = points;
      state.chart.setData(data);
      return;
    }
    if (state.chart) state.chart.destroy();
    state.chartKeys = signature;
    const chart = new uPlot({
      width: box.clientWidth,
      height: box.clientWidth < 600 ? 240 : 340,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      // Symmetric log (asinh): logarithmic above 1, and 0 (a common p50 of comments) on the axis.
      scales: { y: { distr: 4, asinh: 1, range: countRange } },
      axes: [{ values: timeAxis }, { size: 50, values: countAxis }],
      series: [
        {
          label: "Step (UTC)",
          value: (u, value, seriesIndex, index) => {
            const point = index === null || index === undefined ? null : u.points[index];
            return point ? `${utc(point.start)} – ${utc(point.end, false)}, ${number.format(point.total_posts)} posts` : "–";
          },
        },
        ...keys.map((key, i) => ({
          label: key,
          stroke: COLORS[i % COLORS.length],
          width: 1.75,
          spanGaps: false,
          value: (u, value) => (value === null || value === undefined ? "–" : number.format(value)),
        })),
      ],
    }, data, box);
    chart.points = points;
    state.chart = chart;
  }

  function clearTable(caption) {
    $("numbers-caption").textContent = caption;
    $("numbers").querySelector("thead").replaceChildren();
    $("numbers").querySelector("tbody").replaceChildren();
  }

  function cell(tag, text, attributes = {}) {
    const element = document.createElement(tag);
    element.textContent = text;
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    return element;
  }

  function fillTable(points, path) {
    const table = $("numbers");
    table.dataset.url = path;
    const keys = figureKeys(points);
    const head = document.createElement("tr");
    for (const name of ["start (UTC)", "end", ...COUNTS, ...keys]) head.append(cell("th", name, { scope: "col" }));
    table.querySelector("thead").replaceChildren(head);
    const rows = points.slice().reverse().map((point) => {
      const row = document.createElement("tr");
      row.dataset.start = point.start;
      row.dataset.end = point.end;
      row.append(cell("th", utc(point.start), { scope: "row" }), cell("td", utc(point.end, false)));
      for (const key of [...COUNTS, ...keys]) {
        const value = point[key];
        row.append(value === null
          ? cell("td", "–", { "data-key": key, "data-value": "null", class: "empty" })
          : cell("td", String(value), { "data-key": key, "data-value": String(value) }));
      }
      return row;
    });
    table.querySelector("tbody").replaceChildren(...rows);
    $("numbers-caption").textContent = points.length
      ? `${points.length} steps of ${state.window.step} over the last ${state.window.duration}, newest first:`
        + " the answer of the curl command above."
      : "No steps.";
  }

  // --- Controls -----------------------------------------------------------------------

  function checkbox(name, value, checked, onChange) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = name;
    input.value = value;
    input.checked = checked;
    input.addEventListener("change", onChange);
    label.append(input, ` ${value}`);
    return label;
  }

  function checkedValues(name) {
    return [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
  }

  function setUpControls() {
    const windowSelect = $("window");
    for (const w of config.windows) {
      windowSelect.append(new Option(`${w.duration} (step ${w.step})`, w.duration));
    }
    windowSelect.addEventListener("change", () => {
      state.window = config.windows.find((w) => w.duration === windowSelect.value);
      refreshChart();
    });
    const onDimensions = (event) => {
      const chosen = checkedValues("dimension");
      if (!chosen.length) {
        event.target.checked = true;  // at least one: the API requires it
        return;
      }
      state.dimensions = chosen;
      refreshChart();
    };
    $("dimensions").append(...config.dimensions.map((d) => checkbox("dimension", d, state.dimensions.includes(d), onDimensions)));
    const onTypes = () => {
      state.postTypes = checkedValues("post_type");
      $("post-types-summary").textContent = state.postTypes.length ? state.postTypes.join(", ") : "all";
      refreshChart();
    };
    $("post-types").append(...config.postTypes.map((t) => checkbox("post_type", t, false, onTypes)));
    const percentiles = $("percentiles-input");
    percentiles.value = state.percentiles;
    percentiles.addEventListener("change", () => {
      state.percentiles = percentiles.value.replace(/\s+/g, "");
      refreshChart();
    });
    $("query").addEventListener("submit", (event) => event.preventDefault());
    $("copy-curl").addEventListener("click", () => {
      const text = $("curl").textContent;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(() => { $("copy-curl").textContent = "Copied"; }, () => selectCurl());
      } else {
        selectCurl();
      }
    });
    $("auto-refresh").addEventListener("change", schedule);
    window.addEventListener("resize", resize);
  }

  function selectCurl() {
    const range = document.createRange();
    range.selectNodeContents($("curl"));
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
  }

  function resize() {
    if (state.chart) state.chart.setSize({ width: $("chart").clientWidth, height: state.chart.height });
    if (state.rateChart) state.rateChart.setSize({ width: $("rate-chart").clientWidth, height: 90 });
  }

  // --- Live measurement ---------------------------------------------------------------

  function setUpLive() {
    const seconds = $("live-seconds");
    seconds.min = config.liveSeconds.min;
    seconds.max = config.liveSeconds.max;
    const dimension = $("live-dimension");
    for (const d of config.dimensions) dimension.append(new Option(d, d));
    $("live-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if ($("live-form").reportValidity()) measure(Number(seconds.value), dimension.value);
    });
  }

  async function measure(seconds, dimension) {
    const button = $("measure");
    const progress = $("live-progress");
    const message = $("live-message");
    button.disabled = true;
    message.hidden = true;
    $("live-result").hidden = true;
    progress.hidden = false;
    progress.value = 0;
    const started = performance.now();
    const ticker = setInterval(() => {
      progress.value = Math.min((performance.now() - started) / (seconds * 1000), 1);
    }, 100);
    const params = { dimension, percentiles: state.percentiles };
    try {
      const live = await getJson(ANALYSIS, { duration: `${seconds}s`, ...params });
      const stored = await getJson(ANALYSIS, { duration: state.window.duration, ...params })
        .then((answer) => answer.body, (error) => ({ error: error.message }));
      showLive(live.body, stored, seconds);
    } catch (error) {
      show(message, `The live measurement failed (${error.status || "no answer"}): ${error.message}`, "error");
    } finally {
      clearInterval(ticker);
      progress.value = 1;
      progress.hidden = true;
      button.disabled = false;
    }
  }

  function showLive(live, stored, seconds) {
    const table = $("live-result");
    $("live-head").textContent = `Live, last ${seconds} s`;
    $("stored-head").textContent = `Stored, last ${state.window.duration}`;
    $("live-caption").textContent = `Measured at ${utc(Date.now() / 1000)} UTC`;
    const keys = Object.keys(live);
    const rows = keys.map((key) => {
      const row = document.createElement("tr");
      const historical = stored.error ? stored.error : stored[key];
      row.append(cell("th", key, { scope: "row" }),
        cell("td", live[key] === null ? "–" : String(live[key]), { "data-key": key, "data-value": String(live[key]) }),
        cell("td", historical === null || historical === undefined ? "–" : String(historical)));
      return row;
    });
    table.querySelector("tbody").replaceChildren(...rows);
    table.hidden = false;
  }

  // --- Refresh ------------------------------------------------------------------------

  async function refresh() {
    await Promise.all([refreshHealth(), refreshChart()]);
    $("updated").textContent = `Updated ${utc(Date.now() / 1000, false)} UTC`;
  }

  function schedule() {
    clearTimeout(state.timer);
    if (!$("auto-refresh").checked) return;
    // Until the first posts arrive (a collector just started), look again every few seconds.
    const seconds = state.hasData ? config.refreshSeconds : Math.min(3, config.refreshSeconds);
    state.timer = setTimeout(async () => {
      await refresh();
      schedule();
    }, seconds * 1000);
  }

  setUpControls();
  setUpLive();
  refresh().then(schedule);
})();
