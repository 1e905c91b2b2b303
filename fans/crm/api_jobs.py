"""CRM API: bulk jobs and CSV imports, with progress."""

from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from fans.crm import services as crm
from fans.crm.api import member_for
from fans.crm.models import BulkJob, ImportJob
from shops.access import access_shop_membership
from shops.models import ShopMember
from shops.roles import BulkChange, require_bulk_change


class BulkJobOut(serializers.ModelSerializer):
    progress = serializers.FloatField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = BulkJob
        fields = [
            "id",
            "shop",
            "action",
            "params",
            "status",
            "progress",
            "total",
            "processed",
            "changed",
            "result",
            "cancel_requested",
            "download_url",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_download_url(self, obj: BulkJob) -> str | None:
        return f"/api/bulk-jobs/{obj.pk}/download/" if obj.file else None


class BulkJobIn(serializers.Serializer):
    action = serializers.CharField()
    tags = serializers.JSONField(required=False)
    staff = serializers.IntegerField(required=False, allow_null=True)
    segment = serializers.IntegerField(required=False)
    filter = serializers.JSONField(required=False)
    fan_ids = serializers.JSONField(required=False)
    shop = serializers.IntegerField(required=False)


class BulkJobCreateApi(APIView):
    @extend_schema(request=BulkJobIn, responses={201: BulkJobOut})
    def post(self, request: Request) -> Response:
        member = member_for(request)
        data = BulkJobIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        job = crm.bulk_job_create(
            member=member,
            action=v["action"],
            tags=v.get("tags"),
            staff=v.get("staff"),
            fan_ids=v.get("fan_ids"),
            segment=v.get("segment"),
            filter=v.get("filter"),
        )
        job.refresh_from_db()
        return Response(BulkJobOut(job).data, status=status.HTTP_201_CREATED)


def access_job(request: Request, job_id: int) -> tuple[BulkJob, ShopMember]:
    job = BulkJob.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound()
    return job, access_shop_membership(request.user, job.shop_id)


class BulkJobDetailApi(APIView):
    @extend_schema(responses=BulkJobOut)
    def get(self, request: Request, job_id: int) -> Response:
        job, _member = access_job(request, job_id)
        return Response(BulkJobOut(job).data)


class BulkJobCancelApi(APIView):
    @extend_schema(request=None, responses=BulkJobOut)
    def post(self, request: Request, job_id: int) -> Response:
        job, member = access_job(request, job_id)
        return Response(BulkJobOut(crm.bulk_job_cancel(member=member, job=job)).data)


class BulkJobDownloadApi(APIView):
    @extend_schema(responses={(200, "text/csv"): bytes})
    def get(self, request: Request, job_id: int) -> FileResponse:
        job, member = access_job(request, job_id)
        require_bulk_change(member, BulkChange.EXPORT)
        if not job.file:
            raise Http404
        return FileResponse(
            job.file.open("rb"),
            as_attachment=True,
            filename=f"fans-{job.pk}.csv",
            content_type="text/csv; charset=utf-8",
        )


class ImportOut(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "shop",
            "status",
            "encoding",
            "total",
            "valid",
            "errors",
            "result",
            "progress",
            "cancel_requested",
            "created_at",
            "finished_at",
        ]

    def get_progress(self, obj: ImportJob) -> float:
        return crm.import_progress(obj)


class ImportIn(serializers.Serializer):
    file = serializers.FileField()
    shop = serializers.IntegerField(required=False)


class ImportCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=ImportIn, responses={201: ImportOut, 202: ImportOut})
    def post(self, request: Request) -> Response:
        """201 with the preview for a small file; 202 with a `checking` job a worker previews (poll it)."""
        member = member_for(request)
        data = ImportIn(data=request.data)
        data.is_valid(raise_exception=True)
        job = crm.import_preview(member=member, upload=data.validated_data["file"])
        checking = job.status == crm.IMPORT_CHECKING
        return Response(
            ImportOut(job).data, status=status.HTTP_202_ACCEPTED if checking else status.HTTP_201_CREATED
        )


def access_import(request: Request, job_id: int) -> tuple[ImportJob, ShopMember]:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound()
    return job, access_shop_membership(request.user, job.shop_id)


class ImportDetailApi(APIView):
    @extend_schema(responses=ImportOut)
    def get(self, request: Request, job_id: int) -> Response:
        job, _member = access_import(request, job_id)
        return Response(ImportOut(job).data)


class ImportConfirmApi(APIView):
    @extend_schema(request=None, responses=ImportOut)
    def post(self, request: Request, job_id: int) -> Response:
        job, member = access_import(request, job_id)
        job = crm.import_confirm(member=member, job=job)
        job.refresh_from_db()
        return Response(ImportOut(job).data)


class ImportCancelApi(APIView):
    @extend_schema(request=None, responses=ImportOut)
    def post(self, request: Request, job_id: int) -> Response:
        job, member = access_import(request, job_id)
        return Response(ImportOut(crm.import_cancel(member=member, job=job)).data)
