// The status page served at "/": one self-contained HTML document (inline CSS, JS and SVG, no
// external request) that polls /status every 2 s and draws uptime, components, memory against
// the limit and heap cap, budgets, component-reported figures and small charts from /status's
// history. Every shown value carries its raw /status value in data-v (the browser test
// compares them). Beyond loopback the token is passed as #token=… and sent as a Bearer header.

export const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>edgewan status</title>
<style>
:root{--bg:#0f1720;--card:#17212c;--fg:#e6edf3;--mut:#8b9bab;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--acc:#58a6ff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;gap:12px;align-items:center;padding:14px 20px;border-bottom:1px solid #253241}
header h1{font-size:18px;margin:0}.pill{padding:2px 9px;border-radius:10px;font-size:12px;background:#253241}
.ok{background:#1a3d25;color:var(--ok)}.warn{background:#3d3015;color:var(--warn)}.bad{background:#442024;color:var(--bad)}
main{padding:16px 20px;display:grid;gap:14px;grid-template-columns:repeat(auto-fit,minmax(260px,1fr))}
.card{background:var(--card);border-radius:8px;padding:12px 14px}.card h2{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--mut);margin:0 0 8px}
.big{font-size:24px;font-weight:600}.mut{color:var(--mut)}.wide{grid-column:1/-1}
.bar{height:8px;background:#253241;border-radius:4px;overflow:hidden;margin:4px 0 10px}.bar i{display:block;height:100%;background:var(--acc)}
table{width:100%;border-collapse:collapse}td,th{text-align:left;white-space:nowrap;padding:5px 6px;border-bottom:1px solid #253241;vertical-align:top}th{color:var(--mut);font-weight:500}
.kv{font-size:12px;color:var(--mut)}.kv b{color:var(--fg);font-weight:500}
svg{width:100%;height:46px}svg path{fill:none;stroke:var(--acc);stroke-width:1.5}.chart{margin-bottom:8px}
#err{color:var(--bad);padding:0 20px}
</style></head><body>
<header><h1>edgewan</h1><span class="pill" data-k="role"></span><span class="pill" id="ready" data-k="ready"></span>
<span class="mut" data-k="version"></span><span class="mut" style="margin-left:auto" data-k="time"></span></header>
<div id="err"></div>
<main>
<section class="card"><h2>Uptime</h2><div class="big" data-k="uptimeS"></div><div class="mut">restarts in period: <span data-k="supervisor.restartsInPeriod"></span></div></section>
<section class="card"><h2>Memory</h2>
<div>RSS <b data-k="memory.rssBytes"></b> of limit <b data-k="memory.limitBytes"></b> <span class="mut">(<span data-k="memory.limitSource"></span>)</span></div><div class="bar"><i id="rssbar"></i></div>
<div>heap <b data-k="memory.heapUsedBytes"></b> of cap <b data-k="memory.heapCapBytes"></b></div><div class="bar"><i id="heapbar"></i></div></section>
<section class="card"><h2>Budgets</h2><table id="budgets"></table></section>
<section class="card wide"><h2>Components</h2><table><thead><tr><th>name</th><th>state</th><th>restarts</th><th>budget</th><th>for</th><th>reports</th></tr></thead><tbody id="comps"></tbody></table></section>
<section class="card wide" id="edgecard" hidden><h2>Edges</h2><table><thead><tr><th>edge</th><th>link</th><th>address</th><th>for</th><th>RTT</th><th>streams</th><th>in / out</th><th>on the link in / out</th><th>hit ratio</th></tr></thead><tbody id="edges"></tbody></table><div class="mut" id="edgenote"></div></section>
<section class="card wide"><h2>Charts (last 10 min)</h2><div id="charts" style="display:grid;gap:10px;grid-template-columns:repeat(auto-fit,minmax(240px,1fr))"></div></section>
</main>
<script>
(function(){
var tok=(location.hash.match(/token=([^&]+)/)||[])[1];
function bytes(n){if(typeof n!=='number'||!isFinite(n))return String(n);var u=['B','KiB','MiB','GiB','TiB'],i=0;while(n>=1024&&i<4){n/=1024;i++}return (i?n.toFixed(1):n)+' '+u[i]}
function dur(s){var d=Math.floor(s/86400),h=Math.floor(s%86400/3600),m=Math.floor(s%3600/60),x=s%60;return (d?d+'d ':'')+(d||h?h+'h ':'')+(d||h||m?m+'m ':'')+x+'s'}
function get(o,p){return p.split('.').reduce(function(a,k){return a==null?a:a[k]},o)}
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]})}
function show(v,k){if(/(^b|B)ytes$/.test(k)&&typeof v==='number')return bytes(v);if(k==='uptimeS')return dur(v);if(k==='ready')return v?'ready':'not ready';if(typeof v==='number'&&/(Ratio|Rate)$/.test(k))return (v*100).toFixed(1)+' %';return v==null?'—':String(v)}
// nested component facts become "cache.bytes"-style keys; long lists are summarised
function flat(o,p){var out=[];Object.keys(o).forEach(function(k){var v=o[k],key=p+k;
if(v&&typeof v==='object'&&!Array.isArray(v))out=out.concat(flat(v,key+'.'));
else if(Array.isArray(v))out.push([key,v.length>0&&typeof v[0]==='object'?v.length+' item'+(v.length>1?'s':''):v.join(', ')||'—']);
else out.push([key,show(v,k)])});return out}
function cls(st){return st==='running'?'ok':st==='failed'?'bad':st==='unconfigured'||st==='stopped'?'':'warn'}
function spark(xs){var v=xs.filter(function(x){return isFinite(x)});if(v.length<2)return '<svg viewBox="0 0 100 40"></svg>';var lo=Math.min.apply(0,v),hi=Math.max.apply(0,v),r=hi-lo||1,d='';
xs.forEach(function(x,i){if(!isFinite(x))return;d+=(d?'L':'M')+(i*100/(xs.length-1)).toFixed(1)+' '+(38-(x-lo)*36/r).toFixed(1)});return '<svg viewBox="0 0 100 40" preserveAspectRatio="none"><path d="'+d+'"/></svg>'}
function render(s){
document.querySelectorAll('[data-k]').forEach(function(e){var k=e.getAttribute('data-k'),v=get(s,k);e.setAttribute('data-v',JSON.stringify(v));e.textContent=show(v,k.split('.').pop())});
var r=document.getElementById('ready');r.className='pill '+(s.ready?'ok':'bad');
document.getElementById('rssbar').style.width=Math.min(100,100*s.memory.rssBytes/s.memory.limitBytes)+'%';
document.getElementById('heapbar').style.width=Math.min(100,100*s.memory.heapUsedBytes/s.memory.heapCapBytes)+'%';
var b='';Object.keys(s.memory.budgets).forEach(function(k){var v=s.memory.budgets[k];b+='<tr data-budget="'+esc(k)+'"><td>'+esc(k)+'</td><td data-v="'+v+'">'+bytes(v)+'</td><td style="width:45%"><div class="bar"><i style="width:'+(100*v/s.memory.limitBytes)+'%"></i></div></td></tr>'});
document.getElementById('budgets').innerHTML=b;
var c='';s.components.forEach(function(x){var kv=flat(x.status||{},'').map(function(e){return '<span class="kv">'+esc(e[0])+' <b>'+esc(e[1])+'</b></span>'}).join(' · ');
c+='<tr data-component="'+esc(x.name)+'"><td>'+esc(x.name)+'</td><td><span class="pill '+cls(x.state)+'" data-f="state" data-v="'+esc(x.state)+'">'+esc(x.state)+'</span>'+(x.reason?'<div class="kv">'+esc(x.reason)+'</div>':'')+'</td><td data-f="restarts" data-v="'+x.restarts+'">'+x.restarts+'</td><td data-f="budgetBytes" data-v="'+x.budgetBytes+'">'+bytes(x.budgetBytes)+'</td><td>'+dur(x.sinceS)+'</td><td style="white-space:normal">'+kv+'</td></tr>'});
document.getElementById('comps').innerHTML=c;
// a fleet core (docs/fleet.md): one row per edge from the tunnel's status
var fl=(s.components.filter(function(x){return x.status&&x.status.fleet})[0]||{status:{}}).status.fleet,er='';
document.getElementById('edgecard').hidden=!fl;
if(fl){fl.edges.forEach(function(e){er+='<tr data-edge="'+esc(e.name)+'"><td>'+esc(e.name)+'</td><td><span class="pill '+(e.connected?'ok':'bad')+'" data-f="connected" data-v="'+e.connected+'">'+(e.connected?'up':'down')+'</span></td><td>'+esc(e.address||'—')+'</td><td>'+(e.connectedS==null?'—':dur(e.connectedS))+'</td><td>'+(e.rttMs==null||e.rttMs<0?'—':e.rttMs+' ms')+'</td><td>'+e.streams+'</td><td>'+bytes(e.appRxBytes)+' / '+bytes(e.appTxBytes)+'</td><td>'+bytes(e.linkRxBytes)+' / '+bytes(e.linkTxBytes)+'</td><td>'+(e.chunkHitRatio*100).toFixed(1)+' %</td></tr>'});
document.getElementById('edges').innerHTML=er||'<tr><td colspan="9" class="mut">no edge has linked yet</td></tr>';
var rj=Object.keys(fl.rejected).filter(function(k){return fl.rejected[k]}).map(function(k){return k+' '+fl.rejected[k]}).join(', ');
document.getElementById('edgenote').textContent='refused: '+(rj||'none')+(fl.revocation?' · revocation list: '+fl.revocation.entries+' entries, '+fl.revocation.errors+' rejected re-reads':'');}
var h=s.history,ch='',idle=0;Object.keys(h.series).forEach(function(k){var xs=h.series[k],rate=/_total(\\{|$)/.test(k),ys=xs;
if(rate){ys=xs.map(function(x,i){return i?(x-xs[i-1])*1000/(h.t[i]-h.t[i-1]):NaN})}
// a series that never moved says nothing: count it instead of drawing a flat line
var fin=ys.filter(function(y){return isFinite(y)});
if(!/^(rss|heap)/.test(k)&&(fin.length===0||fin.every(function(y){return y===fin[0]})&&(rate||fin[0]===0||fin.length>1))){idle++;return}
var last=ys[ys.length-1];ch+='<div class="chart"><div class="kv">'+esc(k)+(rate?' /s':'')+' <b>'+(/bytes/.test(k)?bytes(Math.round(last)):(isFinite(last)?Math.round(last*100)/100:'—'))+'</b></div>'+spark(ys)+'</div>'});
document.getElementById('charts').innerHTML=(ch||'<span class="mut">collecting…</span>')+(idle?'<span class="mut" style="grid-column:1/-1">'+idle+' more series unchanged so far (bytes in/out, reduction, DNS hits appear as traffic flows)</span>':'');
}
function poll(){var o=tok?{headers:{Authorization:'Bearer '+decodeURIComponent(tok)}}:{};
fetch('status',o).then(function(r){if(!r.ok)throw new Error('HTTP '+r.status);return r.json()}).then(function(s){document.getElementById('err').textContent='';render(s);window.__lastStatus=s})
.catch(function(e){document.getElementById('err').textContent='cannot read /status: '+e.message}).then(function(){setTimeout(poll,2000)})}
poll();
})();
</script></body></html>
`;
