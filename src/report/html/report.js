(function () {
  "use strict";
  function val(td, type) {
    var v = td.getAttribute("data-v");
    if (v === null) v = td.textContent;
    return type === "num" ? parseFloat(v) || 0 : v.toLowerCase();
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var ths = table.querySelectorAll("thead th");
    ths.forEach(function (th, col) {
      th.addEventListener("click", function () {
        var type = th.getAttribute("data-type") || "text";
        var asc = !th.classList.contains("asc");
        ths.forEach(function (o) { o.classList.remove("asc", "desc"); });
        th.classList.add(asc ? "asc" : "desc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = val(a.cells[col], type), y = val(b.cells[col], type);
          var c = x < y ? -1 : x > y ? 1 : 0;
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var table = document.getElementById("ftable");
  if (!table) return;
  var port = document.getElementById("f-port");
  var host = document.getElementById("f-host");
  var count = document.getElementById("f-count");
  function apply() {
    var sevs = {};
    document.querySelectorAll(".f-sev").forEach(function (c) { sevs[c.value] = c.checked; });
    var ports = port.value.split(/[\s,]+/).filter(function (p) { return p; });
    var hq = host.value.trim().toLowerCase();
    var shown = 0, rows = table.tBodies[0].rows;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var ok = sevs[r.getAttribute("data-sev")] !== false;
      if (ok && ports.length) {
        var rp = (r.getAttribute("data-ports") || "").split(" ");
        ok = ports.some(function (p) { return rp.indexOf(p) >= 0; });
      }
      if (ok && hq) ok = (r.getAttribute("data-hosts") || "").toLowerCase().indexOf(hq) >= 0;
      r.style.display = ok ? "" : "none";
      var d = document.getElementById(r.cells[0].getAttribute("data-v"));
      if (d) d.style.display = ok ? "" : "none";
      if (ok) shown++;
    }
    count.textContent = shown + " of " + rows.length + " shown";
  }
  document.querySelectorAll(".f-sev").forEach(function (c) { c.addEventListener("change", apply); });
  port.addEventListener("input", apply);
  host.addEventListener("input", apply);
  apply();
})();
