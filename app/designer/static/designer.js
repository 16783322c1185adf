// The process designer's modeler page: bpmn-js / dmn-js modelers (served from static/vendor) and the
// Liandong side panel, which writes what the platform reads per element into spiffworkflow:properties
// (department, form, deadline, instructions, escalation) and names lanes after department kinds. The
// property names come from the server (setup.properties, setup.formProperty: app/engine/properties.py).
// Saving posts every opened file's XML; the server validates and answers with the problems list.
(function () {
  "use strict";

  // moddle types for <spiffworkflow:properties><spiffworkflow:property name=".." value=".."/></...>
  var SPIFF_MODDLE = {
    name: "SpiffWorkflow",
    prefix: "spiffworkflow",
    uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
    xml: { tagAlias: "lowerCase" },
    associations: [],
    types: [
      { name: "Properties", superClass: ["Element"],
        properties: [{ name: "properties", type: "Property", isMany: true }] },
      { name: "Property", superClass: ["Element"],
        properties: [{ name: "name", type: "String", isAttr: true }, { name: "value", type: "String", isAttr: true }] }
    ].concat(["CalledDecisionId", "InstructionsForEndUser", "PreScript", "PostScript", "AllowGuest",
              "GuestConfirmation", "SignalButtonLabel"].map(function (name) {
      // text-only spiffworkflow elements: once the namespace is declared, undeclared types would be dropped
      return { name: name, superClass: ["Element"], properties: [{ name: "value", type: "String", isBody: true }] };
    }))
  };
  var TASK_TYPES = ["bpmn:UserTask", "bpmn:ManualTask"];

  var setup, text, current = null, selected = null, dirty = false;
  var editors = {};  // file name -> { kind: "bpmn" | "dmn", modeler }

  function $(id) { return document.getElementById(id); }

  function csrfToken() {
    var headers = document.body.getAttribute("hx-headers") || "{}";
    try { return JSON.parse(headers)["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function readProps(bo) {
    var out = {};
    var ext = bo && bo.extensionElements;
    (ext && ext.values || []).forEach(function (v) {
      if (v.$type === "spiffworkflow:Properties") {
        (v.properties || []).forEach(function (p) { out[p.name] = p.value; });
      }
    });
    return out;
  }

  function writeProps(modeler, element, values) {
    var bo = element.businessObject, moddle = modeler.get("moddle"), modeling = modeler.get("modeling");
    var merged = readProps(bo);
    Object.keys(values).forEach(function (k) {
      if (values[k] === "" || values[k] === null || values[k] === undefined) { delete merged[k]; }
      else { merged[k] = values[k]; }
    });
    var others = bo.extensionElements ? (bo.extensionElements.values || []).filter(function (v) {
      return v.$type !== "spiffworkflow:Properties";
    }) : [];
    var props = Object.keys(merged).map(function (k) {
      return moddle.create("spiffworkflow:Property", { name: k, value: merged[k] });
    });
    var values_ = others.slice();
    if (props.length) { values_.push(moddle.create("spiffworkflow:Properties", { properties: props })); }
    var ext = values_.length ? moddle.create("bpmn:ExtensionElements", { values: values_ }) : undefined;
    modeling.updateProperties(element, { extensionElements: ext });
  }

  function showPanel(element) {
    selected = element;
    var panel = $("panel"), empty = $("panel-empty");
    if (!element || element.type === "bpmn:Process" || element.type === "bpmn:Collaboration") {
      panel.hidden = true; empty.hidden = false; return;
    }
    var bo = element.businessObject, props = readProps(bo);
    panel.hidden = false; empty.hidden = true;
    panel.setAttribute("data-element-id", bo.id);
    $("panel-id").textContent = bo.id;
    var type = element.type.replace("bpmn:", "");  // in words, in the page's language (app/common/labels.py)
    $("panel-type").textContent = (text.types || {})[type.charAt(0).toLowerCase() + type.slice(1)] || type;
    $("panel-name").value = bo.name || "";
    var isLane = element.type === "bpmn:Lane", isTask = TASK_TYPES.indexOf(element.type) >= 0;
    $("lane-fields").hidden = !isLane;
    $("task-fields").hidden = !isTask;
    if (isLane) { $("lane-kind").value = bo.name || ""; }
    setup.properties.forEach(function (key) {
      var input = $("prop-" + key);
      if (input) { input.value = props[key] || ""; }
    });
    var form = props[setup.formProperty];
    var link = $("form-edit-link");
    link.textContent = "";
    if (form) {
      var a = document.createElement("a");
      a.href = location.pathname + "/forms/" + form;
      a.textContent = text.editForm;
      link.appendChild(a);
    }
  }

  function applyPanel() {
    if (!selected || !current || current.kind !== "bpmn") { return; }
    var modeler = current.modeler, modeling = modeler.get("modeling");
    var name = $("panel-name").value;
    if (selected.type === "bpmn:Lane" && $("lane-kind").value) { name = $("lane-kind").value; }
    if ((selected.businessObject.name || "") !== name) { modeling.updateProperties(selected, { name: name }); }
    if (TASK_TYPES.indexOf(selected.type) >= 0) {
      var values = {};
      setup.properties.forEach(function (key) {
        var input = $("prop-" + key);
        if (input) { values[key] = input.value.trim(); }
      });
      writeProps(modeler, selected, values);
    }
    markDirty();
    showPanel(modeler.get("elementRegistry").get(selected.id));
  }

  function markDirty() {
    dirty = true;
    $("save-state").textContent = text.unsaved;
    $("save-state").setAttribute("data-valid", "unknown");
  }

  function renderMessages(messages) {
    var list = $("messages");
    list.textContent = "";
    Object.keys(editors).forEach(function (name) {
      var ed = editors[name];
      if (ed.kind !== "bpmn") { return; }
      var registry = ed.modeler.get("elementRegistry"), canvas = ed.modeler.get("canvas");
      registry.getAll().forEach(function (el) { canvas.removeMarker(el.id, "ld-error"); });
    });
    if (!messages.length) {
      var ok = document.createElement("li");
      ok.textContent = text.none;
      list.appendChild(ok);
    }
    messages.forEach(function (m) {
      var li = document.createElement("li");
      li.className = m.level;
      li.textContent = m.text;
      if (m.element_id) {
        li.setAttribute("data-element-id", m.element_id);
        li.addEventListener("click", function () { focusElement(m.file, m.element_id); });
        var ed = editors[m.file];
        if (ed && ed.kind === "bpmn" && ed.modeler.get("elementRegistry").get(m.element_id) && m.level === "error") {
          ed.modeler.get("canvas").addMarker(m.element_id, "ld-error");
        }
      }
      list.appendChild(li);
    });
  }

  function focusElement(file, id) {
    var go = function () {
      if (!current || current.kind !== "bpmn") { return; }
      var el = current.modeler.get("elementRegistry").get(id);
      if (el) {
        current.modeler.get("selection").select(el);
        current.modeler.get("canvas").scrollToElement(el);
      }
    };
    if (file && editors[file] && current !== editors[file]) { openFile(file).then(go); } else { go(); }
  }

  function fetchXml(name) {
    return fetch(setup.files[name], { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.text();
    });
  }

  function openFile(name) {
    var isDmn = /\.dmn$/i.test(name);
    $("canvas").hidden = isDmn;
    $("dmn-canvas").hidden = !isDmn;
    document.querySelectorAll("#file-tabs button").forEach(function (b) {
      b.classList.toggle("current", b.getAttribute("data-file") === name);
    });
    $("download").href = setup.files[name];  // served as an attachment, never inline
    if (editors[name]) {
      current = editors[name];
      return Promise.resolve(current);
    }
    var container = isDmn ? $("dmn-canvas") : $("canvas");
    var modeler = isDmn ? new window.DmnJS({ container: container })
      : new window.BpmnJS({ container: container, moddleExtensions: { spiffworkflow: SPIFF_MODDLE } });
    var entry = { kind: isDmn ? "dmn" : "bpmn", modeler: modeler, name: name };
    editors[name] = entry;
    current = entry;
    return fetchXml(name).then(function (xml) { return modeler.importXML(xml); }).then(function () {
      if (entry.kind === "bpmn") {
        modeler.get("canvas").zoom("fit-viewport");
        modeler.on("selection.changed", function (e) { showPanel(e.newSelection[0] || null); });
        modeler.on("commandStack.changed", markDirty);
        $("canvas").setAttribute("data-rendered", "1");
      }
      return entry;
    }).catch(function (err) {
      container.setAttribute("data-rendered", "error");
      container.textContent = String(err && err.message || err);
      return entry;
    });
  }

  function save() {
    var names = Object.keys(editors);
    return Promise.all(names.map(function (name) {
      return editors[name].modeler.saveXML({ format: true }).then(function (r) { return [name, r.xml]; });
    })).then(function (pairs) {
      var files = {};
      pairs.forEach(function (p) { files[p[0]] = p[1]; });
      return fetch(setup.saveUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ files: files, revision: setup.revision })
      });
    }).then(function (r) {
      if (r.status === 409) { throw new Error(text.conflict); }
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error(body.message || r.status); }
        return body;
      });
    }).then(function (body) {
      setup.revision = body.revision;
      dirty = false;
      $("save-state").textContent = text.saved + " " + (body.valid ? text.valid : text.invalid);
      $("save-state").setAttribute("data-valid", body.valid ? "true" : "false");
      renderMessages(body.messages || []);
    }).catch(function (err) {
      $("save-state").textContent = text.failed + " " + (err && err.message || err);
      $("save-state").setAttribute("data-valid", "false");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setup = JSON.parse($("designer-setup").textContent);
    text = JSON.parse($("designer-text").textContent);
    var names = Object.keys(setup.files);
    names.forEach(function (name) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = name;
      b.setAttribute("data-file", name);
      b.addEventListener("click", function () { openFile(name); });
      $("file-tabs").appendChild(b);
    });
    $("apply-props").addEventListener("click", applyPanel);
    $("save").addEventListener("click", save);
    $("deploy-form").addEventListener("submit", function (e) {
      if (dirty) {
        e.preventDefault();
        var form = e.target;
        save().then(function () { form.submit(); });
      }
    });
    window.addEventListener("beforeunload", function (e) { if (dirty) { e.preventDefault(); } });
    var first = names.filter(function (n) { return /\.bpmn$/i.test(n); })[0] || names[0];
    if (first) { openFile(first).then(function () { renderMessages(setup.messages); }); }
  });
})();
